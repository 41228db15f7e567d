"""Git's ids of files and trees, computed in Python from a directory: no git, no ``.git``.

A worker that received a job's code (a Ray ``working_dir``, a copied checkout) checks it
against the tree id that was submitted; it has neither git nor the repository's objects.
The ids are git's own: a blob is ``blob <size>\\0<bytes>``, a tree the sorted
``<mode> <name>\\0<binary id>`` records of its entries (a subtree sorts as ``name/``).
Bytes are hashed as they are on disk: a clean filter (git-lfs) or ``core.autocrlf``
would make git store something else, and the ids then differ.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field

from autocommit.gitio.objects import SYMLINK_MODE, TREE_MODE, object_id

FILE_MODE = "100644"
EXECUTABLE_MODE = "100755"


def file_entry(path: str, like: str) -> tuple[str, str] | None:
    """``(mode, blob id)`` git would record for the file or symlink at ``path``; None for
    anything else (a directory, a socket, a fifo) or a file gone meanwhile. ``like``: an
    object id of the repository (SHA-1 or SHA-256).

    One ``open`` that refuses symlinks and does not wait on a fifo, then ``fstat``: the
    worker's check reads every file, so the calls per file count.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symlink: git stores where it points
            return SYMLINK_MODE, object_id("blob", os.fsencode(os.readlink(path)), like)
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENXIO):  # gone, or a socket
            return None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        chunks = []
        while chunk := os.read(fd, max(info.st_size, 65536)):
            chunks.append(chunk)
    finally:
        os.close(fd)
    mode = EXECUTABLE_MODE if info.st_mode & stat.S_IXUSR else FILE_MODE
    return mode, object_id("blob", b"".join(chunks), like)


@dataclass
class _Dir:
    files: dict[bytes, tuple[str, str]] = field(default_factory=dict)
    dirs: dict[bytes, _Dir] = field(default_factory=dict)


def tree_id(entries: Mapping[str, tuple[str, str]], like: str) -> str:
    """The id of the tree holding ``entries`` (``{path: (mode, object id)}``, paths
    relative and ``/``-separated), as ``git write-tree`` would give it."""
    top = _Dir()
    for path, entry in entries.items():
        *parents, name = os.fsencode(path).split(b"/")
        here = top
        for part in parents:
            here = here.dirs.setdefault(part, _Dir())
        here.files[name] = entry
    return _write(top, like)


def _write(top: _Dir, like: str) -> str:
    """The tree id of ``top``, subtrees first, without recursion (trees can be deeper
    than Python's recursion limit)."""
    ids: dict[int, str] = {}  # id(_Dir) → its tree id, once written
    stack = [top]
    while stack:
        directory = stack[-1]
        pending = [sub for sub in directory.dirs.values() if id(sub) not in ids]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        records: list[tuple[bytes, bytes]] = []  # (sort key, record)
        for name, (mode, sha) in directory.files.items():
            records.append((name, mode.encode() + b" " + name + b"\0" + bytes.fromhex(sha)))
        for name, sub in directory.dirs.items():
            record = TREE_MODE.encode() + b" " + name + b"\0" + bytes.fromhex(ids[id(sub)])
            records.append((name + b"/", record))
        records.sort()
        ids[id(directory)] = object_id("tree", b"".join(r for _, r in records), like)
    return ids[id(top)]
