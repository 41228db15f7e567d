"""The per-worktree snapshot lock.

An advisory ``flock`` on ``<git-dir>/autocommit/snapshot.lock``: the kernel drops it when
the last process holding its file descriptor exits, so a killed snapshot never leaves a
lock behind. Every git child started while it is held inherits the descriptor
(:func:`autocommit.gitio.git.children_inherit`): a child still running after its parent was
killed keeps the lock until it is done, so whoever gets the lock next knows that no
earlier snapshot is still writing, and any git ``*.lock`` file of ours it finds is stale.
(``filelock`` does not expose its descriptor, hence a few lines of ``fcntl`` here.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from autocommit import state_files
from autocommit.errors import AutocommitError
from autocommit.gitio import git
from autocommit.gitio.repo import Worktree


@contextlib.contextmanager
def snapshot_lock(worktree: Worktree, timeout: float) -> Iterator[None]:
    """Exclusive use of the worktree's private files and shadow refs, or a one-line error."""
    state_files.ensure_dir(worktree.state_dir)
    fd = state_files.open_fd(worktree.state_dir / "snapshot.lock", os.O_RDWR | os.O_CREAT)
    try:
        _acquire(fd, timeout, worktree)
        with git.children_inherit(fd):
            yield
    finally:
        os.close(fd)  # releases the lock unless a git child still holds it


def _acquire(fd: int, timeout: float, worktree: Worktree) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise AutocommitError(
                    f"another snapshot of {worktree.root} has been running for {timeout:.0f}s",
                    "wait for it, or check `autocommit status`",
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
