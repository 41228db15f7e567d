"""File events from inotify (through watchdog), sorted into what the daemon acts on.

Every watch shares one inotify instance, read by one thread, so events arrive in the
order the kernel queued them, across all directories. That order is what makes the
sync barrier exact: once the cookie file created for a sync request comes through,
every change made before the request has been recorded.

watchdog's emitter and observer threads are not used: they hold each rename back for
half a second to pair its two halves, which a sync barrier cannot afford, and paths are
all the daemon needs. Its :class:`InotifyWatchGroup` still does the hard part: adding
watches for new directories, moving them with renamed ones, rebuilding them after an
overflow.
"""

from __future__ import annotations

import errno
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

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

from autocommit.daemon.event_paths import Kind, Layout
from autocommit.gitio.repo import Worktree

log = logging.getLogger(__name__)

# Changes only: reads (open, access, close-nowrite) would echo every `git add`.
EVENT_MASK = Mask(
    InotifyConstants.IN_MODIFY
    | InotifyConstants.IN_ATTRIB
    | InotifyConstants.IN_CLOSE_WRITE
    | InotifyConstants.IN_MOVED_FROM
    | InotifyConstants.IN_MOVED_TO
    | InotifyConstants.IN_CREATE
    | InotifyConstants.IN_DELETE
    | InotifyConstants.IN_DELETE_SELF
    | InotifyConstants.IN_MOVE_SELF
)
_REMEMBERED_MOVES = 1024


class EventSink(Protocol):
    def on_path(self, kind: Kind, path: str) -> None: ...
    def on_events_lost(self, reason: str) -> None: ...
    def on_moved_or_deleted(self, path: str) -> None: ...
    def on_watch_limit(self, reason: str) -> None: ...


class _PassThrough(InotifyMoveEventGrouper):
    """Hands each event on at once; remembers recent moves so watches follow renames."""

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
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
        self._deliver(event.path)

    def get_queued_moved_from_event(self, cookie: int) -> PathedInotifyEvent | None:
        return self._moved_from.get(cookie)

    def read_event(self) -> GroupedInotifyEvent | None:
        return None  # nothing is queued: events were delivered on arrival

    def discard_pending_events(self) -> None:
        self._moved_from.clear()


@dataclass
class _Group(InotifyWatchGroup):
    """One watched directory tree, delivering paths to the daemon's sink."""

    deliver: Callable[[bytes], None] = lambda path: None
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
                self.deliver(path)

    def on_queue_overflow(self) -> None:
        self.lost("inotify queue overflowed")
        super().on_queue_overflow()  # rebuilds the watches


class _Inotify(InotifyFD):
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


@dataclass
class Watcher:
    """Watches a worktree (and, for a linked one, its git dir and branch refs)."""

    worktree: Worktree
    cookies: Path
    sink: EventSink
    _inotify: _Inotify | None = field(default=None, init=False)
    _groups: list[_Group] = field(default_factory=list, init=False)

    def start(self) -> None:
        """Start watching; raises OSError when inotify refuses (limits reached)."""
        layout = Layout.of(self.worktree, self.cookies)
        # Re-watching a directory that already has a watch (see _Group.on_event) is fine.
        warnings.filterwarnings("ignore", "Callback with id", RuntimeWarning)
        limit_reason: list[str] = []

        def deliver(raw: bytes) -> None:
            try:
                kind, path = layout.classify(os.fsdecode(raw))
                if kind is not Kind.NONE:
                    self.sink.on_path(kind, path)
            except Exception:  # the reading thread must survive anything
                log.exception("cannot handle the event for %r", raw)
                self.sink.on_events_lost("an event could not be handled")

        def on_limit(reason: str) -> None:
            limit_reason.append(reason)
            self.sink.on_watch_limit(reason)

        self._inotify = _Inotify(on_limit)
        self._inotify.start()
        wt = self.worktree
        trees = [(wt.root, True)]
        if not str(wt.git_dir).startswith(str(wt.root) + "/"):
            trees.append((wt.git_dir, True))  # a linked worktree, or a separate git dir
            if wt.common_dir != wt.git_dir:
                trees += [(wt.common_dir, False), (wt.common_dir / "refs" / "heads", True)]
        vital = frozenset(os.fsencode(p) for p in (wt.root, wt.git_dir, wt.common_dir))
        try:
            for path, recursive in trees:
                if not path.is_dir():
                    continue  # e.g. no refs/heads/ when every branch is packed
                self._groups.append(
                    _Group(
                        self._inotify,
                        os.fsencode(path),
                        EVENT_MASK,
                        recursive,
                        deliver=deliver,
                        lost=self.sink.on_events_lost,
                        vital=vital,
                        gone=self.sink.on_moved_or_deleted,
                    )
                )
        except OSError:
            self.stop()
            raise
        except RecursionError:  # watchdog walks with os.walk, which recurses before 3.12
            self.stop()
            raise OSError(errno.ENOSPC, "the tree is too deep for watchdog to walk") from None
        if limit_reason:
            self.stop()
            raise OSError(errno.ENOSPC, limit_reason[0])

    @property
    def watch_count(self) -> int:
        return sum(len(g._active_callbacks_by_watch) for g in self._groups)

    def stop(self) -> None:
        for group in self._groups:
            group.deactivate()
        self._groups.clear()
        if self._inotify is not None:
            self._inotify.stop()
            self._inotify.join(timeout=5)
            self._inotify = None
