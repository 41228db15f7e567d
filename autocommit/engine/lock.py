"""The per-worktree snapshot lock.

An advisory ``flock`` on ``<git-dir>/autocommit/snapshot.lock``: the kernel drops it when
the last process holding its file descriptor exits, so a killed snapshot never leaves a
lock behind. Every git child started while it is held inherits the descriptor
(:func:`autocommit.gitio.git.children_inherit`): a child still running after its parent was
killed keeps the lock until it is done, so whoever gets the lock next knows that no
earlier snapshot is still writing, and any git ``*.lock`` file of ours it finds is stale.
The flock itself is :mod:`autocommit.locks`'s, like every lock of autocommit's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from autocommit import locks, state_files
from autocommit.errors import AutocommitError
from autocommit.gitio import git
from autocommit.gitio.repo import Worktree


@contextlib.contextmanager
def snapshot_lock(worktree: Worktree, timeout: float) -> Iterator[None]:
    """Exclusive use of the worktree's private files and shadow refs, or a one-line error."""
    state_files.ensure_dir(worktree.state_dir)
    with locks.held(worktree.state_dir / "snapshot.lock", timeout) as fd:
        if fd is None:
            raise AutocommitError(
                f"another snapshot of {worktree.root} has been running for {timeout:.0f}s",
                "wait for it, or check `autocommit status`",
            )
        with git.children_inherit(fd):
            yield
    # closing the descriptor released the lock, unless a git child still holds it
