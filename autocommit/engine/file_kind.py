"""Which working-tree entries git can record, and why the others cannot be.

git records regular files, symbolic links and directories (trees, or a nested
repository's gitlink). A FIFO, socket or device is not content: ``git add`` refuses one
where a tracked file was (and keeps the index's version) and never lists an untracked
one. Opening a FIFO to read it would block until someone writes to it, so nothing here
reads one.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def recordable(mode: int) -> bool:
    """Whether git records an entry of this ``st_mode`` (file, symlink, directory)."""
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode)


def not_a_file(mode: int) -> str:
    """The reason reported for an entry git does not record (``recordable`` is False)."""
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return f"{kind}, not a regular file"


def why_git_cannot_add(path: Path) -> str | None:
    """Why git cannot add what is at ``path`` now; None when it can, or nothing is there
    (a path that is gone is a deletion to record, not a failure)."""
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not recordable(info.st_mode):
        return not_a_file(info.st_mode)
    if not stat.S_ISREG(info.st_mode):
        return None
    try:  # open, not access(): it answers for this process exactly as git will be
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return None
