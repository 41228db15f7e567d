"""Watching a working tree from a run's process: "did anything in it change?" in one read.

A dependency's tree is watched instead of walked at every run (:mod:`.tree_stamp` is the
fallback): one inotify watch on each of its directories but ``.git`` and those git
ignores as a whole; so are the directories a ``data.json`` walk went through
(:mod:`.data_files`), for names only. The kernel queues an event before the system call
that changed a name, a file's content or its metadata returns, so a later run reads the
queue without waiting: empty, nothing in the watched directories changed since the
watches were set. Any event gives the tree a new generation number. A tree walked here
has each directory watched before it is listed, so a name added meanwhile is an event
too, and an event about a directory (created, removed, renamed) or a lost event (the
queue overflowed) sets its watches anew, as a new directory has none. Directories given
by the caller are watched after its walk, which the caller checks again after the
watches are set, and walks again after any event (:meth:`TreeWatch.follow` then adds
the new directories).

A process has one inotify instance for all its trees (a user may have 128, the daemons'
included). The watches count against the user's limit, which the daemons share too: a
process takes at most an eighth of ``fs.inotify.max_user_watches``; a tree that would
need more, or a watch the kernel refuses, is not watched (the caller falls back to
``stat``). A forked child never reads its parent's queue.
"""

from __future__ import annotations

import ctypes
import errno
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
_EVENT_TYPES = 0xFFFF  # what happened; the bits above are flags (a directory, …)
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows
_IN_MASK_ADD = 0x20000000  # a directory two trees watch gets both their masks
_generations = itertools.count(1)  # unique across watches: a new watch never matches
_lock = threading.RLock()  # two threads reading: one could take the other's events


class _Queue:
    """The process's one inotify instance (a user may have 128, the daemons' included),
    holding the watches of every tree; each event goes to the trees watching its
    directory."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._libc = ctypes.CDLL(None, use_errno=True)
        fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        self.fd: int | None = fd if fd >= 0 else None
        self.owners: dict[int, set[TreeWatch]] = {}  # by watch descriptor

    def add(self, watch: TreeWatch, directory: str) -> bool | None:
        """Watch ``directory`` for ``watch``: True, False when it is gone, None when the
        kernel's limit is reached."""
        assert self.fd is not None
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(directory),
                                          watch.mask | _IN_MASK_ADD)  # fmt: skip
        if wd < 0:
            return None if ctypes.get_errno() in (errno.ENOSPC, errno.EMFILE) else False
        self.owners.setdefault(wd, set()).add(watch)
        watch.wds.add(wd)
        return True

    def remove(self, watch: TreeWatch) -> None:
        """Take back the watches of ``watch`` that no other tree holds."""
        for wd in watch.wds:
            owners = self.owners.get(wd)
            if owners is not None:
                owners.discard(watch)
                if not owners and self.fd is not None:
                    del self.owners[wd]
                    self._libc.inotify_rm_watch(self.fd, wd)
        watch.wds.clear()

    def read(self) -> None:
        """Hand every queued event to the trees watching its directory."""
        while self.fd is not None:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + length
                lost = mask & _IN_Q_OVERFLOW  # every tree's events, then
                watches = set().union(*self.owners.values()) if lost else self.owners.get(wd, ())
                for watch in watches:  # each by its own mask (the directory has all of theirs)
                    if lost or mask & (watch.mask | _IN_IGNORED) & _EVENT_TYPES:
                        watch.changed = True
                        watch.anew = watch.anew or bool(mask & (_SET_ANEW | _IN_ISDIR))
                if mask & _IN_IGNORED:  # the kernel took the watch back: the directory is gone
                    self.owners.pop(wd, None)


_queue: _Queue | None = None


def _queue_here() -> _Queue:
    """This process's queue; a forked child makes its own (the one it inherited is its
    parent's: reading it would take the parent's events)."""
    global _queue
    if _queue is None or _queue.pid != os.getpid():
        if _queue is not None and _queue.fd is not None:
            os.close(_queue.fd)  # the child's copy only
        _queue = _Queue()
    return _queue


class TreeWatch:
    """inotify watches on every directory under ``root`` but ``.git`` and ``skipped``, or
    on the ``directories`` given (a walk the caller made, and checks again after the
    watches are set): of names added, removed or renamed, and (unless ``names_only``) of
    any file's content or metadata changed."""

    def __init__(self, root: str, skipped: frozenset[str], *, names_only: bool = False,
                 directories: list[str] | None = None) -> None:  # fmt: skip
        self.root, self.skipped, self.directories = root, skipped, directories
        self.mask = _NAMES if names_only else _NAMES | _CONTENT
        self.generation = next(_generations)
        self.wds: set[int] = set()
        self.changed = self.anew = False  # set by the queue's reader
        self._watching = False
        self._pid = os.getpid()
        with _lock:
            self._watch()

    @property
    def mine(self) -> bool:
        """Whether this process set the watches (not a forked child of it)."""
        return self._pid == os.getpid()

    @property
    def count(self) -> int:
        return len(self.wds)

    @property
    def watching(self) -> bool:
        """Whether the watches are set (not over the budget or the kernel's limit)."""
        return self._watching

    def follow(self, directories: list[str]) -> list[str]:
        """Watch the ``directories`` of the caller's new walk too (those of the last one
        stay watched: a directory removed takes its watch with it); the ones new."""
        with _lock:
            known = set(self.directories or ())
            self.directories = directories
            new = [d for d in directories if d not in known]
            if self._watching and self.mine:
                self._add(new)
            return new

    def _add(self, directories: list[str]) -> None:
        queue = _queue_here()
        for directory in directories:
            if (queue.add(self, directory) if room() > 0 else None) is None:
                self.close()  # over the budget, or the kernel's limit
                return

    def current(self) -> int:
        """The tree's generation now: a new one when anything changed since the last
        call; 0 when the tree is not watched (the watches could not be set)."""
        with _lock:
            if not self._watching or not self.mine:
                return 0
            _queue_here().read()
            if self.changed or self.anew:
                anew, self.changed, self.anew = self.anew, False, False
                if anew and self.directories is None:  # else the caller walks again
                    self._watch()
                self.generation = next(_generations)
            return self.generation if self._watching else 0

    def close(self) -> None:
        """Take back the watches (in a forked child, the parent's stay)."""
        with _lock:
            if self.mine:
                _queue_here().remove(self)
            self._watching = False

    def _watch(self) -> None:
        """(Re)set the watches: every directory watched before it is listed."""
        queue = _queue_here()
        queue.remove(self)
        self._watching = False
        if queue.fd is None:
            return
        self._watching = True
        if self.directories is not None:
            self._add(self.directories)
            return
        todo = [self.root]
        while todo:
            directory = todo.pop()
            added = queue.add(self, directory) if room() > 0 else None
            if added is None:  # over the budget, or the kernel's limit
                self.close()
                return
            if not added:
                continue  # gone meanwhile: its parent's event says so
            try:
                with os.scandir(directory) as entries:
                    found = [e.path for e in entries if e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            todo += [d for d in found if not d.endswith(f"{os.sep}.git") and d not in self.skipped]


@functools.cache
def _budget() -> int:
    try:
        return int(Path("/proc/sys/fs/inotify/max_user_watches").read_text()) // 8
    except (OSError, ValueError):
        return 0


def held() -> int:
    """How many watches this process holds."""
    return len(_queue.owners) if _queue is not None and _queue.pid == os.getpid() else 0


def room() -> int:
    """How many more watches this process may set."""
    return _budget() - held()
