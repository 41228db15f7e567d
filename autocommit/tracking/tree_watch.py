"""Watching a working tree from a run's process: "did anything in it change?" in one read.

A dependency's tree too large for a ``stat`` walk at every run (:mod:`.tree_stamp`) is
watched instead: one inotify watch on each of its directories but ``.git`` and those git
ignores as a whole; so are the directories a ``data.json`` walk goes through
(:mod:`.data_files`), for names only. The kernel queues an event before the system call
that changed a name, a file's content or its metadata returns, so a later run reads the
queue without waiting: empty, nothing in the watched directories changed since the
watches were set. Any event gives the tree a new generation number; an event about a
directory (created, removed, renamed) or a lost event (the queue overflowed) also sets
the watches anew, as a new directory has none. Each directory is watched before it is
listed, so a name added while the watches are set is an event too.

The watches count against the user's inotify limit, which the daemons share: a process
takes at most an eighth of ``fs.inotify.max_user_watches``; a tree that would need more,
or a watch the kernel refuses, leaves the tree unwatched (described anew at every run).
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import os
import struct
import threading
from pathlib import Path

_IN_MODIFY, _IN_ATTRIB, _IN_MOVED_FROM, _IN_MOVED_TO = 0x2, 0x4, 0x40, 0x80
_IN_CREATE, _IN_DELETE, _IN_DELETE_SELF, _IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
_IN_Q_OVERFLOW, _IN_IGNORED, _IN_ISDIR = 0x4000, 0x8000, 0x40000000
_IN_ONLYDIR, _IN_DONT_FOLLOW, _IN_EXCL_UNLINK = 0x1000000, 0x2000000, 0x4000000
_NAMES = (_IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE | _IN_DELETE_SELF
          | _IN_MOVE_SELF | _IN_ONLYDIR | _IN_DONT_FOLLOW | _IN_EXCL_UNLINK)  # fmt: skip
_CONTENT = _IN_MODIFY | _IN_ATTRIB
_SET_ANEW = _IN_Q_OVERFLOW | _IN_IGNORED | _IN_DELETE_SELF | _IN_MOVE_SELF
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows
_generations = itertools.count(1)  # unique across watches: a new watch never matches


class TreeWatch:
    """inotify watches on every directory under ``root`` but ``.git`` and ``skipped``:
    of names added, removed or renamed, and (unless ``names_only``) of any file's content
    or metadata changed."""

    def __init__(self, root: str, skipped: frozenset[str], *, names_only: bool = False) -> None:
        self.root, self.skipped = root, skipped
        self._mask = _NAMES if names_only else _NAMES | _CONTENT
        self.generation = next(_generations)
        self._fd: int | None = None
        self._count = 0
        # a forked child shares the queue: reading it there would take the parent's events
        self._pid = os.getpid()
        self._lock = threading.Lock()  # two threads reading: one could miss the other's
        self._watch()

    @property
    def mine(self) -> bool:
        """Whether this process set the watches (not a forked child of it)."""
        return self._pid == os.getpid()

    def current(self) -> int:
        """The tree's generation now: a new one when anything changed since the last
        call; 0 when the tree is not watched (the watches could not be set)."""
        with self._lock:
            if self._fd is None or not self.mine:
                return 0
            changed, anew = self._read()
            if anew:
                self._watch()
            if changed or anew:
                self.generation = next(_generations)
            return self.generation if self._fd is not None else 0

    def close(self) -> None:
        """Remove the watches (in a forked child, the parent's stay)."""
        if self._fd is not None:
            _release(self._count)
            os.close(self._fd)
            self._fd, self._count = None, 0

    def _read(self) -> tuple[bool, bool]:
        """(anything changed, the watches must be set anew), from the queued events."""
        assert self._fd is not None
        changed = anew = False
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return changed, anew
            changed = True
            offset = 0
            while offset < len(data):
                _, mask, _, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + length
                anew = anew or bool(mask & _SET_ANEW) or bool(mask & _IN_ISDIR)

    def _watch(self) -> None:
        """(Re)set the watches: every directory watched before it is listed."""
        self.close()
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            return
        self._fd = fd
        todo = [self.root]
        while todo:
            directory = todo.pop()
            if not _reserve():
                self.close()
                return
            self._count += 1
            if libc.inotify_add_watch(fd, os.fsencode(directory), self._mask) < 0:
                if ctypes.get_errno() in (28, 24):  # ENOSPC, EMFILE: the limit is reached
                    self.close()
                    return
                continue  # gone meanwhile: its parent's event says so
            try:
                with os.scandir(directory) as entries:
                    found = [e.path for e in entries if e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            todo += [d for d in found if not d.endswith(f"{os.sep}.git") and d not in self.skipped]


_used = 0  # watches this process holds


@functools.cache
def _budget() -> int:
    try:
        return int(Path("/proc/sys/fs/inotify/max_user_watches").read_text()) // 8
    except (OSError, ValueError):
        return 0


def room() -> int:
    """How many more watches this process may set."""
    return _budget() - _used


def _reserve() -> bool:
    global _used
    if room() <= 0:
        return False
    _used += 1
    return True


def _release(count: int) -> None:
    global _used
    _used -= count
