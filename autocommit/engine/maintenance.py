"""autocommit keeps its own storage small: the loose objects snapshots write get packed.

Every snapshot writes a few loose objects (the changed files' blobs, the trees above
them, a commit), and autocommit runs git with ``gc.auto=0``, so nothing would pack them
until a ``git commit`` of the user's happened to start git's auto gc, which then stalls
that commit on a large repack. Instead, once more than :data:`LOOSE_LIMIT` loose objects
are counted (estimated the way ``git gc --auto`` does, from 16 of the 256 fan-out
directories), they are packed:

    git repack -d -l --geometric=2 --no-write-bitmap-index

It packs every loose object into one new pack and merges packs until each is at least
twice the size of the next smaller one, so the pack count stays logarithmic and the
user's big pack is rewritten only once the small ones add up to half its size.

It is safe while the user's git runs: it takes no lock a git command needs (not
``index.lock``, no ref, not ``gc.pid``; new packs are written under temporary names and
renamed in), starts no hook, and deletes only what it has copied: loose objects now in a
pack (``prune-packed``: a concurrent writer that found an object present still finds it)
and packs whose every object is in the new one (as git's own auto gc does; a reader that
misses a pack rescans). It deletes no unreachable object; that stays ``git gc``'s and
``autocommit prune``'s business, under ``gc.pruneExpire``. Still, it waits for a moment
when no git command of the user's runs in the working tree and ``git gc`` is not running.

When: the daemon packs in its idle time (:class:`IdleMaintenance`): :data:`IDLE_SECONDS`
after its last snapshot, or at the latest :data:`MAX_DEFER` seconds after the bound was
crossed under continuous editing. Without a daemon, the hook or the run whose snapshot
finds the bound crossed starts ``autocommit maintain --if-needed`` detached
(:func:`start_in_background`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from autocommit import background, locks, state_files
from autocommit.gitio import git, gitstate, object_store
from autocommit.gitio.repo import Worktree

if TYPE_CHECKING:
    import logging


def _log() -> logging.Logger:
    import logging  # here: a new `autocommit snapshot` logs nothing, and it costs ~3 ms

    return logging.getLogger("autocommit.maintenance")


LOOSE_LIMIT = 1000  # loose objects; git's own gc.auto is 6700
IDLE_SECONDS = 5.0  # the daemon wrote no snapshot for this long: it is idle
MAX_DEFER = 60.0  # under continuous editing, pack this long after the bound was crossed
BACKGROUND_WAIT = 60.0  # how long a background run waits for the user's git to finish
RESTART_AFTER = 60.0  # a background run started this recently is not started again
GC_PID_STALE = 12 * 3600.0  # git itself takes an older gc.pid for a crashed gc
LOCK, STARTED, LOG = "maintenance.lock", "maintenance.started", "maintenance.log"


class Packed(NamedTuple):
    loose_before: int
    loose_after: int
    packs_after: int
    seconds: float


def over_limit(worktree: Worktree) -> bool:
    return object_store.loose_estimate(object_store.objects_dir(worktree)) > LOOSE_LIMIT


def why_not_now(worktree: Worktree) -> str | None:
    """Why packing should wait: a git command of the user's runs here, or ``git gc``."""
    busy = gitstate.busy(worktree, any_command=True)
    if busy is not None:
        return busy.reason
    with contextlib.suppress(OSError):
        if time.time() - (worktree.common_dir / "gc.pid").stat().st_mtime < GC_PID_STALE:
            return "git gc is running"
    return None


def pack_loose_objects(worktree: Worktree) -> Packed | None:
    """Pack the loose objects now; None when another maintenance is at it."""
    store = object_store.objects_dir(worktree)
    with _lock(worktree) as held:
        if not held:
            return None
        started = time.monotonic()
        before = object_store.loose_count(store)
        keep = object_store.repack_options(object_store.present(store), all_into_one=False)
        git.run(["repack", "-d", "-l", "-q", "--geometric=2", *keep], worktree.root)
        packs = sum(1 for name in os.listdir(store / "pack") if name.endswith(".pack"))
        return Packed(before, object_store.loose_count(store), packs, time.monotonic() - started)


def run_if_needed(worktree: Worktree, wait: float = BACKGROUND_WAIT) -> Packed | None:
    """Pack when past the bound, once the user's git is idle (within ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    while over_limit(worktree):
        if why_not_now(worktree) is None:
            return pack_loose_objects(worktree)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.5)
    return None


def start_in_background(worktree: Worktree) -> bool:
    """Past the bound, start ``autocommit maintain --if-needed`` detached (not again
    within :data:`RESTART_AFTER` seconds); returns whether it was started."""
    if not over_limit(worktree):
        return False
    marker = worktree.state_dir / STARTED
    with contextlib.suppress(OSError):
        if time.time() - marker.stat().st_mtime < RESTART_AFTER:
            return False
    try:
        state_files.ensure_dir(worktree.state_dir)
        state_files.open_file(marker, "ab").close()
        os.utime(marker)
        background.start(worktree.root, ["maintain", "--if-needed"],
                         worktree.state_dir / LOG, git.scrubbed_env())  # fmt: skip
    except OSError as exc:  # a snapshot was made all the same; the next one tries again
        _log().warning("cannot start packing loose objects: %s", exc)
        return False
    return True


@contextlib.contextmanager
def _lock(worktree: Worktree) -> Iterator[bool]:
    """The maintenance lock, if free (one packing at a time, daemon or not)."""
    state_files.ensure_dir(worktree.state_dir)
    with locks.held(worktree.state_dir / LOCK, 0) as fd:
        yield fd is not None


class IdleMaintenance:
    """The daemon's maintenance thread: after snapshots, packs in idle time.

    ``idle_for`` tells how long the daemon has had nothing to do (0 while it snapshots).
    The thread sleeps until a snapshot is written (no wake-ups while nothing happens).
    """

    def __init__(self, worktree: Worktree, idle_for: Callable[[], float]) -> None:
        self._worktree = worktree
        self._idle_for = idle_for
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="maintenance", daemon=True)
        self.last: Packed | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        self._wake.set()  # loose objects from before the daemon count too
        self._thread.start()

    def wrote(self) -> None:
        """A snapshot was written: the loose objects may have passed the bound."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)  # lets a repack in flight finish

    def status(self) -> dict[str, Any]:
        store = object_store.objects_dir(self._worktree)
        return {
            "loose_objects_estimate": object_store.loose_estimate(store),
            "loose_objects_limit": LOOSE_LIMIT,
            "last_packing": None if self.last is None else self.last._asdict(),
            "last_error": self.last_error,
        }

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            if over_limit(self._worktree):
                self._pack_when_idle()

    def _pack_when_idle(self) -> None:
        crossed = time.monotonic()
        while not self._stop.is_set():
            deferred = time.monotonic() - crossed >= MAX_DEFER
            if self._idle_for() >= IDLE_SECONDS or deferred:
                busy = why_not_now(self._worktree)
                if busy is None:
                    self._pack()
                    return
                _log().info("packing loose objects waits: %s", busy)
            self._stop.wait(1.0)

    def _pack(self) -> None:
        try:
            packed = pack_loose_objects(self._worktree)
        except Exception as exc:  # next time, then
            self.last_error = f"{exc!r}"
            _log().warning("packing loose objects failed: %s", exc)
            return
        if packed is not None:
            self.last, self.last_error = packed, None
            _log().info(
                "packed %d loose objects in %.2f s (%d left, %d packs)",
                packed.loose_before - packed.loose_after,
                packed.seconds,
                packed.loose_after,
                packed.packs_after,
            )
