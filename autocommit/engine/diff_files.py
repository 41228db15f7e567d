"""``git diff-files`` on the private index: which files' stat data changed since the
last walk (:mod:`autocommit.engine.scan_cache`).

At 100k files its ``lstat`` of every file is most of a full scan without a walk, so it
is started ahead: by the scan, before the rest of the scan's start; and by a new
``autocommit snapshot`` process (:func:`started_ahead`), before it imports the engine
and reads the settings, or first thing (:mod:`.scan_ahead`) where the private index can
be found without git. A process started ahead, outside the snapshot lock, counts only
when the private index is still the file it read once the lock is held: another
process's snapshot may have replaced it meanwhile (git writes a new file and renames it
over the old one), and then it is ended unread and the scan starts its own.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from autocommit.engine import scan_ahead, scan_cache
from autocommit.errors import GitCommandError
from autocommit.gitio import git
from autocommit.gitio.git_inputs import Stat, stat_of
from autocommit.gitio.repo import Worktree
from autocommit.state_layout import PRIVATE_INDEX

# A submodule counts by its commit (what a gitlink records), not by its own changes,
# which git would otherwise ask each submodule about.
_ARGS = scan_ahead.DIFF_FILES


class DiffFiles:
    """A ``git diff-files`` running on one index file."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc

    def result(self) -> list[str]:
        """The paths whose stat data differ from the index's. (It reads no input: its
        stdin is closed by communicate().)"""
        out, err = self._proc.communicate()
        if self._proc.returncode != 0:
            raise GitCommandError(list(_ARGS), self._proc.returncode,
                                  err.decode(errors="replace"))  # fmt: skip
        return git.nul_split(out)

    def cancel(self) -> None:
        """Not needed after all: end it (it only reads) and reap it."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()


# By index file, with its stat then (size, time and inode tell one index file from
# another: git never writes an index in place).
_ahead: dict[Path, tuple[Stat, DiffFiles]] = {}


def start(root: Path, index: Path) -> DiffFiles | None:
    """``git diff-files`` on ``index`` (None: there is none): the one started ahead for it
    when that read the same file, else a new one."""
    ahead = _ahead.pop(index, None)
    now = stat_of(index)
    if ahead is not None:
        if ahead[0] == now:
            return ahead[1]
        ahead[1].cancel()
    return None if now is None else _diff_files(root, index)


@contextlib.contextmanager
def started_ahead(worktree: Worktree) -> Iterator[None]:
    """Inside this block, ``git diff-files`` on the worktree's private index already runs,
    for the full scan the block will take (a new process's ``autocommit snapshot``),
    when the last full scan kept what a scan without a walk needs. Left unused, it is
    ended when the block ends."""
    index = worktree.state_dir / PRIVATE_INDEX
    before = stat_of(index)
    early = scan_ahead.taken(str(worktree.root), str(index), before)  # started first thing
    if before is None or not scan_cache.kept(worktree.state_dir):
        if early is not None:
            DiffFiles(early).cancel()
        yield
        return
    _ahead[index] = (before, DiffFiles(early) if early else _diff_files(worktree.root, index))
    try:
        yield
    finally:
        left = _ahead.pop(index, None)
        if left is not None:
            left[1].cancel()


def _diff_files(root: Path, index: Path) -> DiffFiles:
    return DiffFiles(git.popen(_ARGS, root, env={"GIT_INDEX_FILE": str(index)}))
