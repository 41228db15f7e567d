"""Which changed paths git ignores, asked of git itself in batches.

Git's rules (``.gitignore`` at every level, ``info/exclude``, ``core.excludesFile``,
negations, tracked files that match a pattern) are not reimplemented here: one
``git check-ignore --stdin`` per batch answers for every path. Directories found ignored
(and holding no tracked file) are remembered, so a burst of writes inside ``build/`` or
``.venv/`` costs git nothing after the first batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from autocommit import git
from autocommit.errors import GitCommandError

_MAX_REMEMBERED = 10_000


def _parents(path: str) -> Iterable[str]:
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


class IgnoredPaths:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._ignored_dirs: set[str] = set()

    def forget(self) -> None:
        """Drop what is remembered (ignore rules or tracked files changed)."""
        self._ignored_dirs.clear()

    def _in_ignored_dir(self, path: str) -> bool:
        return any(parent in self._ignored_dirs for parent in _parents(path))

    def not_known_ignored(self, paths: Iterable[str]) -> list[str]:
        """The paths outside the directories already known to be ignored (asks no one)."""
        return sorted({p for p in paths if not self._in_ignored_dir(p)})

    def relevant(self, paths: Iterable[str]) -> list[str]:
        """The paths git does not ignore (the ones a snapshot may have to record)."""
        unknown = self.not_known_ignored(paths)
        if not unknown:
            return []
        directories = sorted({p.rsplit("/", 1)[0] for p in unknown if "/" in p})
        query = unknown + [d + "/" for d in directories]
        try:
            proc = git.run(
                ["check-ignore", "--stdin", "-z"],
                self.root,
                input=git.nul_join(query),
                ok_codes=(0, 1),
            )
        except GitCommandError:
            return unknown  # e.g. a path inside a submodule: let the engine decide
        ignored = set(git.nul_split(proc.stdout))
        self._remember(sorted(p.rstrip("/") for p in ignored if p.endswith("/")))
        return [p for p in unknown if p not in ignored and not self._in_ignored_dir(p)]

    def _remember(self, directories: list[str]) -> None:
        """Remember ignored directories, except those holding a tracked (force-added) file."""
        if not directories:
            return
        listing = git.run(
            [
                "ls-files",
                "-z",
                "--cached",
                "--",
                *[":(top,literal)" + d + "/" for d in directories],
            ],
            self.root,
            check=False,
        ).stdout
        holding_tracked = {parent for f in git.nul_split(listing) for parent in _parents(f)}
        if len(self._ignored_dirs) > _MAX_REMEMBERED:
            self._ignored_dirs.clear()
        self._ignored_dirs.update(d for d in directories if d not in holding_tracked)
