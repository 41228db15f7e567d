"""File events from inotify (through watchdog), sorted into what the daemon acts on.

Every watch shares one inotify instance, read by one thread, so events arrive in the
order the kernel queued them, across all directories. That order is what makes the
sync barrier exact: once the cookie file created for a sync request comes through,
every change made before the request has been recorded.

watchdog's emitter and observer threads are not used: they hold each rename back for
half a second to pair its two halves, which a sync barrier cannot afford, and paths are
all the daemon needs. Its :class:`InotifyWatchGroup` still does the hard part: adding
watches for new directories, moving them with renamed ones, rebuilding them after an
overflow. Whatever of watchdog's is not public lives in :mod:`.inotify_adapter`.
"""

from __future__ import annotations

import errno
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from autocommit.daemon.event_paths import Kind, Layout
from autocommit.daemon.inotify_adapter import (
    CONTENT,
    DIRECTORY_NAME,
    Inotify,
    InotifyConstants,
    Mask,
    WatchGroup,
)
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


class EventSink(Protocol):
    def on_path(self, kind: Kind, path: str) -> None: ...
    def on_name(self, path: str, directory: bool) -> None: ...
    def on_events_lost(self, reason: str) -> None: ...
    def on_moved_or_deleted(self, path: str) -> None: ...
    def on_watch_limit(self, reason: str) -> None: ...


@dataclass
class Watcher:
    """Watches a worktree (and, for a linked one, its git dir and branch refs)."""

    worktree: Worktree
    cookies: Path
    sink: EventSink
    _inotify: Inotify | None = field(default=None, init=False)
    _groups: list[WatchGroup] = field(default_factory=list, init=False)

    def start(self) -> None:
        """Start watching; raises OSError when inotify refuses (limits reached)."""
        layout = Layout.of(self.worktree, self.cookies)
        # Re-watching a directory that already has a watch (see WatchGroup.on_event) is fine.
        warnings.filterwarnings("ignore", "Callback with id", RuntimeWarning)
        limit_reason: list[str] = []

        def deliver(raw: bytes, what: int) -> None:
            try:
                kind, path = layout.classify(os.fsdecode(raw))
                if kind is not Kind.NONE:
                    self.sink.on_path(kind, path)
                if kind is Kind.TREE and what != CONTENT:
                    self.sink.on_name(path, what == DIRECTORY_NAME)
            except Exception:  # the reading thread must survive anything
                log.exception("cannot handle the event for %r", raw)
                self.sink.on_events_lost("an event could not be handled")

        def on_limit(reason: str) -> None:
            limit_reason.append(reason)
            self.sink.on_watch_limit(reason)

        self._inotify = Inotify(on_limit)
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
                    WatchGroup(
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
        return sum(g.watch_count for g in self._groups)

    def stop(self) -> None:
        for group in self._groups:
            group.deactivate()
        self._groups.clear()
        if self._inotify is not None:
            self._inotify.stop()
            self._inotify.join(timeout=5)
            self._inotify = None
