"""What changed since the last snapshot, and when the next snapshot is due.

The watcher thread records changes, control-socket threads register sync requests, and
the daemon's one snapshot thread takes batches out. Debounce: a batch is due once no
change arrived for ``quiet_period`` seconds, or ``max_wait`` seconds after the first
change of the batch (a file written continuously still gets snapshots). A sync request
whose cookie has been seen makes a batch due at once.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autocommit.engine.run_commit import PinnedRun
    from autocommit.engine.snapshot import Snapshot

# Beyond this many changed paths a full reconcile is as cheap as listing them.
MAX_PATHS = 5000


class SyncRequest:
    """One caller waiting for the snapshot of the tree as of its request."""

    def __init__(
        self,
        token: str,
        for_run: bool = False,
        context: dict[str, bytes] | None = None,
        context_follows: bool = False,
    ) -> None:
        self.token = token
        self.for_run = for_run  # an MLflow run starts: make and pin its run commit too
        self.context = context  # the run's context files: a commit on the run commit
        # The run sends its context files after the request, once gathered (while the
        # snapshot is made): set when they arrived (context None: it had none to send).
        self.context_arrived = threading.Event()
        if not context_follows:
            self.context_arrived.set()
        self.seen = False  # its cookie came through the watch: every earlier change is recorded
        self.cookie_came = threading.Event()  # seen that way (not served by a reconcile)
        self.done = threading.Event()
        self.delivered = threading.Event()  # its answer is made: the daemon may go on
        self.snapshot: Snapshot | None = None
        self.run: PinnedRun | None = None
        self.error: str | None = None
        self.times = {"received": time.monotonic()}  # when each step was reached

    def context_came(self, context: dict[str, bytes] | None) -> None:
        self.context = context
        self.mark("context received")
        self.context_arrived.set()

    def mark(self, step: str) -> None:
        self.times.setdefault(step, time.monotonic())

    def phases(self) -> dict[str, float]:
        """Milliseconds from each step reached to the next: where the wait went."""
        steps = sorted(self.times.items(), key=lambda item: item[1])
        return {
            step: round(1000 * (when - before), 3)
            for (_, before), (step, when) in itertools.pairwise(steps)
        }

    def finish(
        self, snapshot: Snapshot | None, error: str | None = None, run: PinnedRun | None = None
    ) -> None:
        self.snapshot, self.error, self.run = snapshot, error, run
        self.mark("answered")
        self.done.set()


@dataclass
class Batch:
    paths: set[str]
    full: bool  # scan everything (paths are then irrelevant)
    reasons: set[str]
    syncs: list[SyncRequest]
    first_change: float | None
    last_change: float | None = None
    taken: float = field(default_factory=time.monotonic)
    index_changed: bool = False  # the user's index was rewritten (what it tracks, maybe)


class PendingChanges:
    def __init__(self, quiet_period: float, max_wait: float) -> None:
        self.quiet_period = quiet_period
        self.max_wait = max_wait
        self._cond = threading.Condition()
        self._paths: set[str] = set()
        self._full = False
        self._index = False  # the user's index was rewritten since the last batch
        self._reasons: set[str] = set()
        self._first: float | None = None  # first change not yet taken
        self._last: float | None = None  # latest change (kept across batches)
        self._requests: dict[str, SyncRequest] = {}
        self._closed = False

    # -- recorded by the watcher ------------------------------------------------------

    def _touch(self) -> None:
        now = time.monotonic()
        self._last = now
        if self._first is None:
            self._first = now
            # Only the first change of a batch wakes the snapshot thread: later ones just
            # push the due time back, which it finds when its timed wait ends.
            self._cond.notify_all()

    def path_changed(self, path: str) -> None:
        with self._cond:
            if not self._full:
                self._paths.add(path)
                if len(self._paths) > MAX_PATHS:
                    self._full, self._paths = True, set()
                    self._reasons.add("many changes")
            self._touch()

    def index_changed(self) -> None:
        """The user's index was rewritten: the next snapshot checks what it tracks (a
        ``git status`` only refreshes stat data; a ``git add`` may track another path)."""
        with self._cond:
            self._index = True
            self._touch()

    def reconcile(self, reason: str) -> None:
        """Everything may have changed: scan the whole tree."""
        with self._cond:
            self._full, self._paths = True, set()
            self._reasons.add(reason)
            self._touch()

    def cookie_seen(self, token: str) -> None:
        with self._cond:
            request = self._requests.get(token)
            if request is not None:
                request.seen = True
                request.cookie_came.set()
                request.mark("cookie seen")
                self._cond.notify_all()

    # -- sync requests ----------------------------------------------------------------

    def add_request(self, request: SyncRequest) -> None:
        with self._cond:
            self._requests[request.token] = request

    def drop_request(self, request: SyncRequest) -> None:
        with self._cond:
            self._requests.pop(request.token, None)

    def mark_seen(self, request: SyncRequest) -> None:
        """Serve a request without a cookie (no inotify: the batch is a full reconcile)."""
        with self._cond:
            request.seen = True
            self._full = True
            self._reasons.add("sync without a watch")
            self._cond.notify_all()

    def release_requests(self) -> None:
        """Serve every waiting request with a full reconcile (the watch was given up)."""
        with self._cond:
            for request in self._requests.values():
                request.seen = True
            self._full = True
            self._reasons.add("watch given up")
            self._cond.notify_all()

    def abandon_requests(self, why: str) -> None:
        with self._cond:
            for request in self._requests.values():
                request.finish(None, why)
            self._requests.clear()

    # -- the snapshot thread ----------------------------------------------------------

    @property
    def count(self) -> int:
        with self._cond:
            return len(self._paths)

    @property
    def waiting(self) -> bool:
        """Whether a sync request waits for its snapshot."""
        with self._cond:
            return any(not request.done.is_set() for request in self._requests.values())

    @property
    def full_pending(self) -> bool:
        with self._cond:
            return self._full

    @property
    def last_change(self) -> float | None:
        with self._cond:
            return self._last

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _due(self, now: float, pace_until: float) -> float | None:
        """When the next batch is due (None: nothing pending)."""
        if any(r.seen for r in self._requests.values()):
            return now  # someone waits: no pacing
        if self._first is None or self._last is None:
            return None
        return max(pace_until, min(self._last + self.quiet_period, self._first + self.max_wait))

    def take(self, not_before: float = 0.0, pace_until: float = 0.0) -> Batch | None:
        """Block until a batch is due and take it; None once closed.

        ``not_before`` holds every batch back; ``pace_until`` only those no sync request
        waits for. Sleeps without a timeout while nothing is pending (no idle wake-ups).
        """
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                due = self._due(now, pace_until)
                if due is not None:
                    due = max(due, not_before)
                    if due <= now:
                        return self._take()
                self._cond.wait(None if due is None else due - now)
            return None

    def _take(self) -> Batch:
        syncs = [r for r in self._requests.values() if r.seen]
        for request in syncs:
            del self._requests[request.token]
            request.mark("taken")
        batch = Batch(
            set(self._paths), self._full, set(self._reasons), syncs, self._first, self._last,
            index_changed=self._index,
        )  # fmt: skip
        self._paths, self._full, self._reasons, self._first = set(), False, set(), None
        self._index = False
        return batch

    def put_back(self, batch: Batch) -> None:
        """Return a batch that could not be snapshotted yet (git busy, or an error)."""
        with self._cond:
            if batch.full:
                self._full, self._paths = True, set()
            elif not self._full:
                self._paths |= batch.paths
                if len(self._paths) > MAX_PATHS:
                    self._full, self._paths = True, set()
            self._reasons |= batch.reasons
            self._index = self._index or batch.index_changed
            for request in batch.syncs:
                self._requests[request.token] = request
            if batch.first_change is not None or batch.full:
                first = batch.first_change or time.monotonic()
                self._first = first if self._first is None else min(self._first, first)
                self._last = self._last or first
