"""Which changed paths git ignores, asked of git itself in batches.

Git's rules (``.gitignore`` at every level, ``info/exclude``, ``core.excludesFile``,
negations) are not reimplemented here: ``git check-ignore --no-index`` answers by the
patterns alone, without reading the index (tens of milliseconds at 100k files). A path a
pattern matches is ignored only if untracked, so those few paths are then looked up in
the index. What is found ignored (files, and directories holding no tracked file) is
remembered until the next full reconcile, so a burst of writes inside ``build/`` or
``.venv/``, or a log file written continuously, costs git nothing after the first batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from autocommit.errors import GitCommandError
from autocommit.gitio import git

_MAX_REMEMBERED = 10_000


def _parents(path: str) -> Iterable[str]:
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


class IgnoredPaths:
    def __init__(self, root: Path) -> None:
        self.root = root
        # Paths (files or directories) found ignored, with no tracked file at or under them.
        self._ignored: set[str] = set()

    def forget(self) -> None:
        """Drop what is remembered (ignore rules or tracked files changed)."""
        self._ignored.clear()

    def _known_ignored(self, path: str) -> bool:
        return path in self._ignored or any(p in self._ignored for p in _parents(path))

    def not_known_ignored(self, paths: Iterable[str]) -> list[str]:
        """The paths not already known to be ignored (asks no one)."""
        return sorted({p for p in paths if not self._known_ignored(p)})

    def relevant(self, paths: Iterable[str]) -> list[str]:
        """The paths git does not ignore (the ones a snapshot may have to record)."""
        unknown = self.not_known_ignored(paths)
        if not unknown:
            return []
        directories = sorted({p.rsplit("/", 1)[0] + "/" for p in unknown if "/" in p})
        try:
            matched = git.check_ignore(self.root, [*unknown, *directories])
            if not matched:
                return unknown
            tracked = self._tracked(matched)
        except GitCommandError:
            return unknown  # e.g. a path inside a submodule: let the engine decide
        holding_tracked = tracked | {parent for path in tracked for parent in _parents(path)}
        if len(self._ignored) > _MAX_REMEMBERED:
            self._ignored.clear()
        self._ignored.update(p.rstrip("/") for p in matched)
        self._ignored -= holding_tracked
        return [p for p in unknown if not self._known_ignored(p)]

    def _tracked(self, matched: set[str]) -> set[str]:
        """The tracked files at or under the matched paths: the few the index is read for."""
        directories = {p for p in matched if p.endswith("/")}
        inside = [
            p for p in matched if any(d + "/" in directories for d in _parents(p.rstrip("/")))
        ]
        names = sorted(p.rstrip("/") for p in matched.difference(inside))
        listing = git.run(["ls-files", "-z", "--cached", "--", *names], self.root).stdout
        return set(git.nul_split(listing))
