"""Every lock of autocommit's: an advisory ``flock`` on a state file, with a timeout.

The kernel drops a ``flock`` when the last descriptor of its open file is closed, so a
killed process never leaves a lock behind. A lock is released by closing its descriptor,
never by ``LOCK_UN``: a git child that inherited the snapshot lock's descriptor
(:func:`autocommit.gitio.git.children_inherit`) keeps the lock held until it exits, which
an explicit unlock would take away from it. That, and the hot path (the snapshot lock is
taken on every MLflow run), is why this is ``fcntl`` and not ``filelock``: see
"One lock helper, on fcntl" in docs/design-notes.md for the figures.

Standard library and :mod:`autocommit.state_files` only: the git hooks import it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from autocommit import state_files

FIRST_DELAY = 0.002  # seconds between the first tries; doubled up to ``poll``


def acquire(fd: int, timeout: float, *, shared: bool = False, poll: float = 0.05) -> bool:
    """Lock ``fd`` within ``timeout`` seconds (0: one try); False when it stays held."""
    operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout
    delay = min(FIRST_DELAY, poll)
    while True:
        try:
            fcntl.flock(fd, operation)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, poll)


@contextlib.contextmanager
def held(path: Path, timeout: float, *, poll: float = 0.05) -> Iterator[int | None]:
    """Exclusive lock on ``path`` (created mode 0600): yields its descriptor, or None when
    another process held it for ``timeout`` seconds. Released when the block ends (by
    closing the descriptor: see the module's docstring)."""
    fd = state_files.open_fd(path, os.O_RDWR | os.O_CREAT)
    try:
        yield fd if acquire(fd, timeout, poll=poll) else None
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """Whether a live process holds ``path`` exclusively (a shared probe; never creates
    the file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        return not acquire(fd, 0, shared=True)
    finally:
        os.close(fd)  # also releases the shared lock if it was taken
