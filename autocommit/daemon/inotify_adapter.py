"""The one place that touches watchdog's inotify internals (watchdog 7.x).

The daemon reads inotify through watchdog's :class:`InotifyWatchGroup` without its
emitter and observer threads (see :mod:`.watcher`). That needs members watchdog does
not promise to keep; every use of one is in this module, and
``tests/test_inotify_adapter.py`` fails naming the member when an upgrade removes or
renames one (hence ``watchdog>=7.1,<8`` in pyproject.toml). The members, and why:

``InotifyWatchGroup._move_event_grouper`` (a dataclass field)
    replaced by :class:`_PassThrough`, so that each event is handed on at once instead
    of being held back half a second to pair the halves of a rename.
``InotifyWatchGroup._lock`` (a dataclass field)
    held, as watchdog's own ``on_event`` does, while asking for an event's path or
    adding watches.
``InotifyWatchGroup._build_event_source_path``
    the path of an event (watchdog's map from watch descriptor to directory).
``InotifyWatchGroup._add_all_callbacks``
    watching a renamed directory's whole subtree (watchdog assumes it was watched);
    overridden to walk with ``scandir`` (see :meth:`WatchGroup._add_all_callbacks`).
``InotifyWatchGroup._add_callback``
    watching one directory, as watchdog's walk does.
``InotifyWatchGroup._active_callbacks_by_watch`` (a dataclass field)
    counting the watches, for ``autocommit status``.

Public but undocumented (the modules ``inotify_c`` and ``inotify_move_event_grouper``),
overridden here: ``InotifyMoveEventGrouper`` (``put_event``,
``get_queued_moved_from_event``, ``read_event``, ``discard_pending_events``),
``InotifyWatchGroup`` (``on_event``, ``on_queue_overflow``, ``is_active``,
``is_recursive``, ``deactivate``), ``InotifyFD.add_callback``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass

from watchdog.observers.inotify import InotifyWatchGroup
from watchdog.observers.inotify_c import (
    CallbackId,
    InotifyConstants,
    InotifyEvent,
    InotifyFD,
    Mask,
    WatchCallback,
    WatchDescriptor,
)
from watchdog.observers.inotify_move_event_grouper import (
    GroupedInotifyEvent,
    InotifyMoveEventGrouper,
    PathedInotifyEvent,
)

# Every member this module relies on, by class: checked by the adapter's test.
PRIVATE_MEMBERS: dict[type, tuple[str, ...]] = {
    InotifyWatchGroup: (
        "_move_event_grouper",
        "_lock",
        "_build_event_source_path",
        "_add_all_callbacks",
        "_add_callback",
        "_active_callbacks_by_watch",
    ),
}
OVERRIDDEN_MEMBERS: dict[type, tuple[str, ...]] = {
    InotifyMoveEventGrouper: (
        "put_event",
        "get_queued_moved_from_event",
        "read_event",
        "discard_pending_events",
    ),
    InotifyWatchGroup: ("on_event", "on_queue_overflow", "is_active", "is_recursive", "deactivate"),
    InotifyFD: ("add_callback", "start", "stop"),
}

__all__ = ["Inotify", "InotifyConstants", "Mask", "WatchGroup"]

# What an event did to its path: handed on with it (see :func:`naming`).
CONTENT = 0  # changed what the path holds (written, its mode or times changed)
FILE_NAME = 1  # created, removed or renamed it, a file or link
DIRECTORY_NAME = 2  # created, removed or renamed it, a directory

Deliver = Callable[[bytes, int], None]  # an event's path, and what it did (CONTENT, …)


def naming(event: InotifyEvent) -> int:
    """Whether ``event`` made a name come or go in its directory, and whose."""
    if event.is_create or event.is_delete or event.is_moved_from or event.is_moved_to:
        return DIRECTORY_NAME if event.is_directory else FILE_NAME
    return CONTENT


_REMEMBERED_MOVES = 1024


class _PassThrough(InotifyMoveEventGrouper):
    """Hands each event on at once; remembers recent moves so watches follow renames."""

    def __init__(self, deliver: Deliver) -> None:
        super().__init__()
        self._deliver = deliver
        self._moved_from: dict[int, PathedInotifyEvent] = {}

    def put_event(self, event: PathedInotifyEvent) -> None:
        if event.ev.is_moved_from:
            if len(self._moved_from) >= _REMEMBERED_MOVES:
                self._moved_from.pop(next(iter(self._moved_from)))
            self._moved_from[event.ev.cookie] = event
        elif event.ev.is_moved_to:
            self._moved_from.pop(event.ev.cookie, None)
        self._deliver(event.path, naming(event.ev))

    def get_queued_moved_from_event(self, cookie: int) -> PathedInotifyEvent | None:
        return self._moved_from.get(cookie)

    def read_event(self) -> GroupedInotifyEvent | None:
        return None  # nothing is queued: events were delivered on arrival

    def discard_pending_events(self) -> None:
        self._moved_from.clear()


@dataclass
class WatchGroup(InotifyWatchGroup):
    """One watched directory tree, delivering paths to the daemon's sink."""

    deliver: Deliver = lambda path, what: None
    lost: Callable[[str], None] = lambda reason: None
    # Directories whose removal or renaming ends the daemon: the top, the git dirs.
    vital: frozenset[bytes] = frozenset()
    gone: Callable[[str], None] = lambda path: None

    def __post_init__(self) -> None:
        self._move_event_grouper = _PassThrough(self.deliver)
        super().__post_init__()

    def on_event(self, event: InotifyEvent) -> None:
        if event.is_delete_self or event.is_move_self:
            with self._lock:
                path = self._build_event_source_path(event) if self.is_active else None
            if path in self.vital:
                self.gone(os.fsdecode(path))
        super().on_event(event)
        if event.is_moved_to and event.is_directory and self.is_recursive:
            # watchdog assumes a renamed directory's subdirectories were all watched; one
            # created just before the rename was not. Watch the whole subtree, then report
            # the directory again so that whatever was written meanwhile is looked at.
            with self._lock:
                path = self._build_event_source_path(event) if self.is_active else None
                if path is not None:
                    self._add_all_callbacks(path)
            if path is not None:
                self.deliver(path, CONTENT)  # its name's event went by already

    def _add_all_callbacks(self, path: bytes) -> None:
        """watchdog's, with one ``scandir`` per directory: its ``os.walk`` and ``islink``
        cost two ``lstat``s per directory and more Python per entry, which made watching
        100k files take 0.7 s. Each directory is watched before it is listed, as there."""
        self._add_callback(path)
        if not self.is_recursive or not os.path.isdir(path):
            return
        todo = [path]
        while todo:
            try:
                with os.scandir(todo.pop()) as entries:
                    found = [e.path for e in entries if e.is_dir(follow_symlinks=False)]
            except OSError:  # gone or unreadable meanwhile, as watchdog passes over it
                continue
            for directory in found:
                self._add_callback(directory)
            todo.extend(found)

    @property
    def watch_count(self) -> int:
        return len(self._active_callbacks_by_watch)

    def on_queue_overflow(self) -> None:
        self.lost("inotify queue overflowed")
        super().on_queue_overflow()  # rebuilds the watches


class Inotify(InotifyFD):
    """The shared inotify instance; notices when the kernel refuses more watches."""

    def __init__(self, on_limit: Callable[[str], None]) -> None:
        super().__init__()
        self._on_limit = on_limit

    def add_callback(
        self, path: bytes, mask: Mask, callback: WatchCallback, id_: CallbackId
    ) -> WatchDescriptor:
        try:
            return super().add_callback(path, mask, callback, id_)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EMFILE):
                self._on_limit(f"{exc.strerror} (raise fs.inotify.max_user_watches)")
            raise
