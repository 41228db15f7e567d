"""autocommit's own files under ``<git-dir>/autocommit/``: readable by their owner alone.

The directory is mode 0700 and every file in it 0600, whoever creates them (``init``,
a hook, an MLflow run without the daemon, the daemon) and whatever the umask. Files
are created with mode 0600 from the start (no window in which they are wider); files
git writes there (the private index) and files left by older versions are narrowed by
:func:`narrow`. Standard library only: the git hooks import it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path
from typing import IO, Any

DIR_MODE = 0o700
FILE_MODE = 0o600
_WIDER = stat.S_IRWXG | stat.S_IRWXO  # any permission for group or others


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) mode 0700; narrow it, and what it holds,
    when it exists with wider permissions (made by an older version or another tool)."""
    try:
        os.mkdir(path, DIR_MODE)
    except FileNotFoundError:
        ensure_dir(path.parent)
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        pass
    if stat.S_IMODE(os.stat(path).st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)
        narrow(path)
    return path


def narrow(directory: Path) -> None:
    """Take every permission for group and others off what ``directory`` holds (what
    another user owns, say a file a ``sudo`` command left, stays as it is)."""
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            with contextlib.suppress(FileNotFoundError, PermissionError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    continue
                if info.st_mode & _WIDER:
                    os.chmod(entry.path, stat.S_IMODE(info.st_mode) & ~_WIDER)
                if stat.S_ISDIR(info.st_mode):
                    narrow(Path(entry.path))


def open_fd(path: Path, flags: int) -> int:
    """``os.open`` of a state file, created mode 0600."""
    return os.open(path, flags | os.O_CLOEXEC, FILE_MODE)


def open_file(path: Path, mode: str, **options: Any) -> IO[Any]:
    """``open`` of a state file for writing (``"w"``, ``"a"``, binary or not), created
    mode 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = open_fd(path, flags)
    try:
        return open(fd, mode, **options)
    except BaseException:
        os.close(fd)
        raise


def write_atomically(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` in one rename (a reader sees old or new, never
    half); the new file has ``mode`` (0600 unless told: a hook script is 0755). Every
    file autocommit replaces as a whole is written here, state file or not."""
    import tempfile  # here: most snapshots replace no file, and it loads shutil and random

    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            if mode != FILE_MODE:  # mkstemp creates 0600
                os.fchmod(file.fileno(), mode)
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_over(path: Path, data: bytes) -> None:
    """Write ``data`` over ``path``'s old content, then cut what is left of it: no
    truncation to nothing first and no rename, on which ext4 flushes the file to disk
    when it is closed (``auto_da_alloc``, 0.3-0.8 ms a write). Not atomic: a reader or a
    crash may meet a mix of old and new, so the content must carry its own check
    (:func:`write_checked`)."""
    fd = open_fd(path, os.O_WRONLY | os.O_CREAT)
    try:
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def write_checked(path: Path, text: bytes) -> None:
    """:func:`write_over` ``text`` followed by its checksum, which :func:`read_checked`
    verifies: a write cut short by a crash, or met half done, reads as nothing."""
    write_over(path, text + b"\n" + hashlib.sha1(text).hexdigest().encode())


def read_checked(path: Path) -> bytes | None:
    """What :func:`write_checked` wrote; None when its checksum does not hold."""
    text, _, digest = path.read_bytes().rpartition(b"\n")
    return text if hashlib.sha1(text).hexdigest().encode() == digest else None
