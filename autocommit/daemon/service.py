"""The watch daemon: every change of the working tree becomes a snapshot.

Threads: the watcher's inotify reader records changed paths (:mod:`autocommit.daemon.pending`),
one snapshot thread turns due batches into snapshots with the engine, the control server
answers requests, and the main thread waits for a signal. Events are hints; the engine
is the truth: it snapshots the changed paths, or scans the whole tree on start, after an
inotify overflow, after git operations and whenever in doubt. The git processes a
snapshot talks to through pipes are kept from one snapshot to the next
(:mod:`autocommit.engine.kept_processes`). For a sync request of an MLflow run, the run
commit is made and pinned with the snapshot, its change summary computed meanwhile on
another thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import functools
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from autocommit import state_files
from autocommit.contract import CONTEXT_FILES, CONTEXT_MESSAGE
from autocommit.daemon.control import (
    CONTEXT_AFTER_NAMES,
    CONTEXT_FOLLOWS,
    UNKNOWN_CONTEXT,
    DaemonFiles,
)
from autocommit.daemon.event_paths import Kind
from autocommit.daemon.name_log import NameLog
from autocommit.daemon.pending import Batch, PendingChanges, SyncRequest
from autocommit.daemon.server import ControlServer
from autocommit.engine.change_summary import KeptDiff
from autocommit.engine.file_commit import FileCommits, FileTree, TreeStore
from autocommit.engine.ignored import IgnoredPaths
from autocommit.engine.kept_processes import GitPipes
from autocommit.engine.maintenance import IdleMaintenance
from autocommit.engine.run_commit import PinnedRun
from autocommit.engine.run_pin import RunPin
from autocommit.engine.snapshot import Snapshot, take_snapshot
from autocommit.errors import AutocommitError
from autocommit.gitio import git_inputs, gitstate
from autocommit.gitio.commits import write_commits
from autocommit.gitio.repo import Worktree
from autocommit.settings import config
from autocommit.settings.config import Settings

log = logging.getLogger("autocommit.daemon")

GIT_SETTLE = 2.0  # a git command that leaves the tree quiet this long waits for a person
STRICT_GIT_WAIT = 300.0  # the longest a pre-commit hook's stash is waited out
GIT_RECENT = 600.0  # look for git processes this long after git last touched the repo
BUSY_RECHECK = 0.1
PACE_FACTOR = 1.0  # background snapshots use at most half of one core
MAX_PACE = 10.0
POLL_INTERVAL = 2.0  # without inotify: scan the whole tree this often…
POLL_FACTOR = 10.0  # …or this many times the length of a scan, whichever is longer
SPARE_COOKIE = "next"  # made ahead, renamed to a sync's token (tokens are <pid>-<n>)
COOKIE_GRACE = 2.0  # a cookie not seen by then: fall back to a full reconcile
DELIVERY_WAIT = 0.05  # the most the snapshot thread lets sync answers go out first
# The most a run commit waits for a context on its way (a run sends it once gathered):
# made together, they take one ref update, and the answer waits for the context anyway.
CONTEXT_WAIT = 0.25
DEFAULT_SYNC_WAIT = 5.0  # seconds a sync request waits for its snapshot, unless it says
MAX_SYNC_WAIT = 3600.0


def _sync_timeout(value: Any) -> float | None:
    """How long a sync request waits: the client's timeout (a number of seconds up to
    :data:`MAX_SYNC_WAIT`), :data:`DEFAULT_SYNC_WAIT` from a client that sends none."""
    if value is None:
        return DEFAULT_SYNC_WAIT
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 <= value <= MAX_SYNC_WAIT else None


def _identity(worktree: Worktree) -> list[tuple[int, int] | None]:
    """The device and inode of the top of the working tree and of its git dirs."""
    found: list[tuple[int, int] | None] = []
    for path in (worktree.root, worktree.git_dir, worktree.common_dir):
        try:
            info = os.stat(path)
        except OSError:
            found.append(None)
        else:
            found.append((info.st_dev, info.st_ino))
    return found


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _delivered(answered: list[SyncRequest]) -> None:
    """Wait (a little) until the answers just given are out."""
    deadline = time.monotonic() + DELIVERY_WAIT
    for request in answered:
        request.delivered.wait(max(0.0, deadline - time.monotonic()))


class Daemon:
    def __init__(self, worktree: Worktree, settings: Settings) -> None:
        self.worktree = worktree
        self.settings = settings
        self.files = DaemonFiles.of(worktree)
        self.pending = PendingChanges(settings.quiet_period, settings.max_wait)
        self.ignored = IgnoredPaths(worktree.root)
        self.pipes = GitPipes(worktree, kept=True)  # used by the snapshot thread only
        self._describer: ThreadPoolExecutor | None = None  # runs' change summaries…
        self._summaries = KeptDiff(worktree.root)  # …through one kept diff-tree
        # runs' contexts: blobs and trees (from Python where the snapshots found it allowed)
        self._trees = TreeStore(worktree, kept=True, loose=self.pipes.loose)
        self.started = time.time()
        self.names = NameLog(f"{os.getpid()}-{self.started}")  # for the runs' data walks
        self.watch_mode = "starting"
        self.watch_problem: str | None = None
        self.last_snapshot: Snapshot | None = None
        self.last_snapshot_at: float | None = None
        self.snapshots_created = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.waiting_for: str | None = None
        self.snapshotting = False
        self._watcher: Any = None  # a watcher.Watcher while inotify works
        self._server: ControlServer | None = None
        self._stop = threading.Event()
        self._reload_settings = False
        self._degrade: str | None = None  # why inotify must be given up
        self._last_git_activity = -GIT_RECENT  # monotonic time git last touched the repo
        self._busy_since: float | None = None
        self._failures = 0
        self._tokens = itertools.count()
        self._ahead_maker: threading.Thread | None = None  # makes the next objects' files
        self._full_scan_seconds = 0.0  # how long the last full scan took
        self._inputs = ""  # git_inputs.fingerprint of git's inputs, at the last look
        self._identity = _identity(worktree)  # which directories it watches, to notice…
        # …a working tree removed, or removed and created anew at the same path
        self.maintenance = IdleMaintenance(worktree, self._idle_for)  # packs loose objects

    # -- events (called on the watcher's thread) --------------------------------------

    def on_path(self, kind: Kind, path: str) -> None:
        if kind is Kind.COOKIE:
            self.pending.cookie_seen(path)
        elif kind is Kind.TREE:
            name = path.rsplit("/", 1)[-1]
            if name == ".gitignore":
                self.pending.reconcile("ignore rules changed")
            elif path in config.SETTINGS_FILES:
                self._reload_settings = True
                self.pending.reconcile("settings changed")
            else:
                self.pending.path_changed(path)
        elif kind is Kind.GIT:
            self._last_git_activity = time.monotonic()
            if path in ("index", "index.lock"):  # HEAD and refs move for what changes more
                self.pending.index_changed()
            else:
                self.pending.reconcile("git operation")
        elif kind is Kind.RULES:
            self._reload_settings = True
            self.pending.reconcile("git settings changed")

    def on_moved_or_deleted(self, path: str) -> None:
        log.info("%s was moved or deleted", path)
        self._gone()

    def _gone(self) -> bool:
        """Whether the working tree or its git dir is gone (removed, moved, or replaced by
        another at the same path); the daemon then stops: nothing is left to watch."""
        if _identity(self.worktree) == self._identity:
            return False
        if not self._stop.is_set():
            log.info("the working tree %s is gone; stopping", self.worktree.root)
            self._stop.set()
        return True

    def _git_inputs_changed(self) -> bool:
        """Whether one of git's inputs changed since the last look: a ``stat`` of each
        (those outside the git dir are not watched: see :mod:`autocommit.gitio.git_inputs`)."""
        now = git_inputs.fingerprint(git_inputs.files(self.worktree))
        changed, self._inputs = now != self._inputs, now
        return changed

    def on_name(self, path: str, directory: bool) -> None:
        self.names.add(path, directory)

    def on_events_lost(self, reason: str) -> None:
        log.warning("%s: events were lost; reconciling the whole tree", reason)
        self.names.lose()
        self.pending.reconcile(reason)

    def on_watch_limit(self, reason: str) -> None:
        self._degrade = reason
        self.pending.reconcile("inotify watch limit")

    # -- the snapshot thread ----------------------------------------------------------

    def _snapshot_loop(self) -> None:
        not_before = pace_until = retry_at = 0.0
        while True:
            # After an error, background snapshots back off; a sync request retries at
            # once (someone waits, and the fault may be gone: a disk freed, a ref fixed).
            batch = self.pending.take(not_before, max(pace_until, retry_at))
            if batch is None:
                return
            not_before = retry_at = 0.0
            if self._degrade and self.watch_mode == "inotify":
                self._fall_back_to_polling(self._degrade)
            if self._must_wait_for_git(latency_matters=bool(batch.syncs)):
                self.pending.put_back(batch)
                not_before = time.monotonic() + BUSY_RECHECK
                continue
            started = time.monotonic()
            try:
                done = self._process(batch)
            except Exception as exc:  # a bug must not stop the snapshots for good
                self._failed(exc, batch)
                done = False
            if not done:
                retry_at = time.monotonic() + min(30.0, 0.5 * 2**self._failures)
            # Under a sustained burst, snapshots that take long are spaced out (a sync
            # request is still served at once), so the daemon never hogs the machine.
            pace_until = time.monotonic() + min(
                MAX_PACE, PACE_FACTOR * (time.monotonic() - started)
            )

    def _must_wait_for_git(self, latency_matters: bool) -> bool:
        # Looking for the user's git processes costs a few ms: a sync request skips it
        # unless git touched the repository lately.
        recent = time.monotonic() - self._last_git_activity < GIT_RECENT
        busy = gitstate.busy(self.worktree, look_for_processes=recent or not latency_matters)
        now = time.monotonic()
        if busy is None:
            self._busy_since, self.waiting_for = None, None
            return False
        if self._busy_since is None:
            self._busy_since = now
            log.info("waiting: %s", busy.reason)
        waited = now - self._busy_since
        quiet = now - (self.pending.last_change or 0.0)
        if busy.strict:
            wait = waited < STRICT_GIT_WAIT
        else:
            wait = waited < GIT_SETTLE or (quiet < GIT_SETTLE and waited < STRICT_GIT_WAIT)
        self.waiting_for = busy.reason if wait else None
        if not wait:
            log.info("snapshotting although %s (waited %.0fs)", busy.reason, waited)
            self._busy_since = None
        return wait

    def _process(self, batch: Batch) -> bool:
        """Snapshot one batch and answer its sync requests; False when it failed."""
        if self._gone():
            for request in batch.syncs:
                request.finish(None, "the working tree is gone")
            return True
        inputs = self._git_inputs_changed()
        full = batch.full or self.last_snapshot is None or inputs
        if inputs:
            log.info("git's settings, ignore or attribute files changed; reconciling")
            self.pipes.close()  # the kept git processes read them once, when they started
            self._summaries.restart()
            self._reload_settings = True
        if full:
            self.ignored.forget()
            if self._reload_settings and not self._load_settings():
                for request in batch.syncs:
                    request.finish(None, "autocommit was disabled in this repository")
                return True
        if full:
            paths = None
        elif batch.syncs:  # someone waits: the engine sorts out ignored paths itself
            paths = self.ignored.not_known_ignored(batch.paths)
        else:
            paths = self.ignored.relevant(batch.paths)
        if paths == [] and self.last_snapshot is not None and not batch.index_changed:
            # nothing relevant changed since the last snapshot
            self._answer(batch.syncs, self.last_snapshot, self._run_pin(batch.syncs))
            self._ready_for_next(batch.syncs)
            return True
        started = time.monotonic()
        self.snapshotting = True
        run = self._run_pin(batch.syncs)
        for request in batch.syncs:
            request.mark("checked")
        try:
            snap = take_snapshot(self.worktree, paths, self.settings, pipes=self.pipes, pin=run)
        except Exception as exc:
            self.pipes.close()  # one may be left mid-answer: start them afresh
            if self._gone():
                return True
            self._failed(exc, batch)
            return False
        finally:
            self.snapshotting = False
        self._failures = 0
        for request in batch.syncs:
            request.mark("snapshot")
        if paths is None:
            self._full_scan_seconds = time.monotonic() - started
        self.last_snapshot, self.last_snapshot_at = snap, time.time()
        took = time.monotonic() - started
        self._answer(batch.syncs, snap, run)  # first: someone may be waiting
        _delivered(batch.syncs)  # then the log's write, once the answers are out
        if snap.created:
            self.snapshots_created += 1
            self.maintenance.wrote()
            log.info(
                "snapshot %s on %s in %.0f ms (%s): %s",
                snap.commit[:12],
                snap.shadow_ref,
                1000 * took,
                "full scan" if paths is None else f"{len(paths)} paths",
                snap.summary,
            )
        self._ready_for_next(batch.syncs)
        return True

    def _ready_for_next(self, answered: list[SyncRequest]) -> None:
        """Start the next ref update's git now, and make the next sync's cookie and the
        next objects' files, while nobody waits: the next snapshot (a run's, likely) then
        spends no process start or file creation on them. An idle update-ref changes nothing.
        The answers just given go out first (a process start holds this thread, and
        Python's lock with it, for a few milliseconds)."""
        _delivered(answered)
        try:
            self.pipes.refs.start()
        except Exception as exc:  # that snapshot starts it itself
            log.debug("could not start update-ref ahead: %s", exc)
        self._make_spare_cookie()
        self._make_objects_ahead()

    def _make_objects_ahead(self) -> None:
        """Make the files of the next objects on a thread of their own, which stops as
        soon as a sync request waits: this thread is then free to take it at once. Not
        before the control server is up: binding its socket sets the process's umask for
        a moment, which would give files made meanwhile other modes."""
        if self._server is None or (self._ahead_maker is not None and self._ahead_maker.is_alive()):
            return
        self._ahead_maker = threading.Thread(
            target=self.pipes.loose.make_ahead,
            args=(lambda: self.pending.waiting or self._stop.is_set(),),
            name="objects-ahead",
            daemon=True,
        )
        self._ahead_maker.start()

    def _idle_for(self) -> float:
        """How long the daemon has had nothing to do (0 while a snapshot is under way)."""
        if self.snapshotting or self.pending.full_pending or self.pending.count:
            return 0.0
        return time.monotonic() - (self.pending.last_change or 0.0)

    def _run_pin(self, requests: list[SyncRequest]) -> RunPin | None:
        """What makes the run commit (and each run's context commit on it, pinned with
        it) when an MLflow run waits for this snapshot."""
        if not any(request.for_run for request in requests):
            return None
        if self._describer is None:
            self._describer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="describe")
        runs = [r for r in requests if r.for_run]

        def arrived() -> dict[str, dict[str, bytes]]:  # the contexts here by the run commit
            deadline = time.monotonic() + CONTEXT_WAIT
            for request in runs:
                request.context_arrived.wait(max(0.0, deadline - time.monotonic()))
            return {r.token: r.context for r in runs if r.context_arrived.is_set() and r.context}

        context = FileCommits({}, CONTEXT_MESSAGE, self._trees, arrived=arrived)
        return RunPin(self.worktree, self._describer, context, pipes=self.pipes,
                      summaries=self._summaries)  # fmt: skip

    def _answer(self, requests: list[SyncRequest], snap: Snapshot, run: RunPin | None) -> None:
        """Answer the sync requests; those for a run get its pinned run commit too, and
        their context commit when they sent one."""
        pinned = None
        if run is not None:
            try:
                pinned = run.pinned(snap)
            except Exception as exc:  # the plugin makes it itself then
                log.warning("no run commit for %s: %s", snap.commit[:12], exc)
        made = run.context.made if run is not None and run.context is not None else None
        if run is not None and run.context is not None and run.context.error is not None:
            log.warning("no context commit (the run makes it): %s", run.context.error)
        for request in requests:
            ran = pinned if request.for_run else None
            if ran is not None and made is not None and request.token in made:
                ran = dataclasses.replace(ran, context=made[request.token])
            request.finish(snap, run=ran)

    def _failed(self, exc: Exception, batch: Batch) -> None:
        """Record the error, answer the batch's sync requests, rescan everything later."""
        self._failures += 1
        self._record_error(exc)
        self.pending.reconcile("retry after an error")
        for request in batch.syncs:
            request.finish(None, self.last_error)

    def _record_error(self, exc: Exception) -> None:
        message = exc.one_line() if isinstance(exc, AutocommitError) else f"{exc!r}"
        self.last_error, self.last_error_at = message, time.time()
        log.error("snapshot failed: %s", message, exc_info=not isinstance(exc, AutocommitError))

    def _load_settings(self) -> bool:
        """Re-read the settings; False when the daemon must stop (autocommit disabled)."""
        self._reload_settings = False
        try:
            settings, broken = config.load_or_last_good(self.worktree)
        except AutocommitError as exc:
            self._record_error(exc)
            return True
        if broken is not None:  # a settings file in the middle of an edit, say
            message = f"{broken.what}; snapshots use the settings last read ({broken.todo})"
            self.last_error, self.last_error_at = message, time.time()  # `status` shows it
            log.warning(message)
        if not settings.enabled:
            log.info("autocommit was disabled in this repository; stopping")
            self._stop.set()
            return False
        self.settings = settings
        self.pending.quiet_period, self.pending.max_wait = settings.quiet_period, settings.max_wait
        return True

    # -- watching ---------------------------------------------------------------------

    def _start_watching(self) -> None:
        try:
            from autocommit.daemon.watcher import Watcher
        except Exception as exc:  # watchdog has no inotify here (not Linux)
            self._fall_back_to_polling(f"inotify is not available: {exc}")
            return
        watcher = Watcher(self.worktree, self.files.cookies, self)
        try:
            watcher.start()
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                raise AutocommitError(
                    f"cannot watch {self.worktree.root}: {exc.strerror or exc}",
                    "check the directory's permissions and file system",
                ) from exc
            self._fall_back_to_polling(exc.strerror or str(exc))
            return
        self._watcher = watcher
        self.watch_mode = "inotify"
        log.info("watching %s (%d inotify watches)", self.worktree.root, watcher.watch_count)

    def _fall_back_to_polling(self, reason: str) -> None:
        """No inotify: scan the whole tree periodically, and on every sync request."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        self.names.lose()
        self.watch_mode, self.watch_problem = "polling", reason
        log.warning(
            "inotify unavailable (%s): scanning the tree every %.0fs instead",
            reason,
            self._poll_interval(),
        )
        self.pending.release_requests()
        threading.Thread(target=self._poll_loop, name="poll", daemon=True).start()

    def _poll_interval(self) -> float:
        """Every 2 s, or less often on a tree whose scan is slow (a tenth of a core at most)."""
        return max(POLL_INTERVAL, POLL_FACTOR * self._full_scan_seconds)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll_interval()):
            self.pending.reconcile("periodic scan")

    # -- control requests -------------------------------------------------------------

    def handle(
        self,
        message: dict[str, Any],
        read_next: Callable[[], dict[str, Any]] | None = None,
        tell: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Answer one control request; ``read_next`` reads the next message of the same
        connection (a sync for a run may say its context files follow), ``tell`` sends an
        answer before the last (where names came and went, before those files)."""
        op = message.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}
        if op == "sync":
            timeout = _sync_timeout(message.get("timeout"))
            if timeout is None:
                return {"ok": False, "error": f"bad sync timeout {message.get('timeout')!r}"}
            wanted = message.get("context")
            follows = wanted in (CONTEXT_FOLLOWS, CONTEXT_AFTER_NAMES) and read_next is not None
            try:
                context = None if follows else self._context_of(wanted)
            except ValueError as exc:
                return {"ok": False, "error": str(exc)}
            names = None
            if follows and wanted == CONTEXT_AFTER_NAMES and tell is not None:
                since = message.get("names_since")
                names = functools.partial(self._tell_names, tell, since)
            for_run = bool(message.get("run"))
            return self._sync(timeout, for_run, context, read_next if follows else None, names)
        if op == "notify":
            self._last_git_activity = time.monotonic()
            self.pending.reconcile(f"git {message.get('event', 'operation')}")
            return {"ok": True}
        if op == "status":
            return {"ok": True, **self.status()}
        if op == "stop":
            log.info("stop requested")
            self._stop.set()
            return {"ok": True, "pid": os.getpid()}
        return {"ok": False, "error": f"unknown request {op!r}"}

    @staticmethod
    def _context_of(files: Any) -> dict[str, bytes] | None:
        """The run's context files a sync request carries (name → text, the names of
        :data:`~autocommit.contract.CONTEXT_FILES` only); None without them."""
        if files is None:
            return None
        if not isinstance(files, dict) or not files:
            raise ValueError(UNKNOWN_CONTEXT)
        for name, text in files.items():
            if name not in CONTEXT_FILES or not isinstance(text, str):
                raise ValueError(f"bad context file {name!r}")
        return {name: text.encode(errors="surrogateescape") for name, text in files.items()}

    def _store_ahead(self, context: dict[str, bytes] | None) -> None:
        """Write a run's context tree while its cookie travels and the snapshot is made
        (it does not depend on the run commit); the snapshot thread writes it otherwise."""
        last = self.last_snapshot
        if context is None or last is None:
            return
        try:
            self._trees.write(FileTree.of(context, last.tree))
        except Exception as exc:
            log.debug("could not write a run's context ahead: %s", exc)

    def _sync(
        self,
        timeout: float,
        for_run: bool,
        context: dict[str, bytes] | None,
        read_context: Callable[[], dict[str, Any]] | None = None,
        tell_names: Callable[[SyncRequest, bool], None] | None = None,
    ) -> dict[str, Any]:
        """Wait for the snapshot of everything changed before this request. A run's
        context files come with the request, or (``read_context``) right after it, read
        while the snapshot is under way; ``tell_names`` first tells the run where names
        came and went since it last asked."""
        token = f"{os.getpid()}-{next(self._tokens)}"
        request = SyncRequest(token, for_run, context, context_follows=read_context is not None)
        cookie = self.files.cookies / request.token
        self.pending.add_request(request)
        cookie_written = False
        try:
            if self.watch_mode != "inotify":
                self.pending.mark_seen(request)
            else:
                try:
                    self._write_cookie(cookie)
                    cookie_written = True
                except OSError as exc:  # e.g. someone removed .git/autocommit/
                    log.warning("cannot write a sync cookie (%s); reconciling instead", exc)
                    self.pending.mark_seen(request)
                self._store_ahead(context)
            if tell_names is not None:
                tell_names(request, cookie_written)
            if read_context is not None:
                error = self._receive_context(request, read_context)
                if error is not None:
                    return {"ok": False, "error": error}
            if not request.done.wait(min(COOKIE_GRACE, timeout)) and not request.seen:
                log.warning("sync cookie %s not seen; reconciling the whole tree", cookie)
                self.pending.mark_seen(request)
            if not request.done.wait(timeout):
                return {"ok": False, "error": f"no snapshot within {timeout:.1f}s"}
        finally:
            self.pending.drop_request(request)
            with contextlib.suppress(OSError):  # gone, or never made (see above)
                os.unlink(cookie)
        if request.snapshot is None:
            return {"ok": False, "error": request.error or "the daemon is stopping"}
        if request.run is not None and request.run.context is None and request.context:
            request.run = self._context_after(request.run, request.context)
        answer = {"ok": True, "snapshot": request.snapshot.to_dict(), "phases": request.phases()}
        if request.run is not None:
            answer["run"] = request.run.to_dict()
        request.delivered.set()
        return answer

    def _tell_names(
        self,
        tell: Callable[[dict[str, Any]], None],
        since: Any,
        request: SyncRequest,
        cookie_written: bool,
    ) -> None:
        """Tell the run where names came and went since ``since`` (its last answer), once
        the request's cookie came through the watch (so every earlier change is in);
        ``None`` when that is unknown (no watch, no cookie, or the cookie late)."""
        came = cookie_written and request.cookie_came.wait(COOKIE_GRACE)
        tell({"names": self.names.since(since) if came else None})

    def _write_cookie(self, cookie: Path) -> None:
        """Make ``cookie`` appear: the spare cookie made ahead renamed (a rename is far
        cheaper than making a file on some file systems), else a new file."""
        try:
            os.rename(self.files.cookies / SPARE_COOKIE, cookie)
        except FileNotFoundError:
            flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC
            os.close(os.open(cookie, flags, 0o600))

    def _make_spare_cookie(self) -> None:
        """Make the next sync's cookie now, while nobody waits (see :meth:`_write_cookie`)."""
        spare = self.files.cookies / SPARE_COOKIE
        if not spare.exists():  # opened for writing, it would make an event for nothing
            with contextlib.suppress(OSError):
                os.close(os.open(spare, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))

    def _receive_context(
        self, request: SyncRequest, read_context: Callable[[], dict[str, Any]]
    ) -> str | None:
        """Read the context files a run sends after its sync request (None: none); the
        error to answer with when they are not usable."""
        try:
            context = self._context_of(read_context().get("context"))
        except (OSError, ValueError) as exc:  # cut off, too large, malformed
            request.for_run = False  # nobody will take its run commit
            request.context_came(None)
            return f"bad context: {exc}"
        request.context_came(context)
        self._store_ahead(context)
        return None

    def _context_after(self, run: PinnedRun, context: dict[str, bytes]) -> PinnedRun:
        """``run`` with its context commit, made and pinned now: its files arrived after
        the snapshot had made the run commit. ``run`` as it is when that fails (the run
        then makes it itself)."""
        try:
            commits = FileCommits({"run": context}, CONTEXT_MESSAGE, self._trees)
            wanted = commits.on(self.worktree, run.commit, None)
            texts = [w.text for w in wanted if w.text is not None]
            if texts:
                write_commits(self.worktree, texts)
            if wanted:  # through the snapshots' own update-ref, between two of theirs
                self.pipes.refs.pin([w.commit for w in wanted])
        except Exception as exc:
            log.warning("no context commit for %s (the run makes it): %s", run.commit[:12], exc)
            return run
        return dataclasses.replace(run, context=(commits.made or {}).get("run"))

    def _state(self) -> str:
        if self.waiting_for:
            return f"waiting for git: {self.waiting_for}"
        return "snapshotting" if self.snapshotting else "watching"

    def status(self) -> dict[str, Any]:
        snap = self.last_snapshot
        return {
            "running": True,
            "pid": os.getpid(),
            "worktree": str(self.worktree.root),
            "started_at": _iso(self.started),
            "uptime_seconds": round(time.time() - self.started, 1),
            "watch_mode": self.watch_mode,
            "watch_problem": self.watch_problem,
            "watches": self._watcher.watch_count if self._watcher else 0,
            "state": self._state(),
            "git_operation": gitstate.operation_in_progress(self.worktree),
            "pending_changes": self.pending.count,
            "full_scan_pending": self.pending.full_pending,
            "last_snapshot": None
            if snap is None
            else {
                "commit": snap.commit,
                "shadow_ref": snap.shadow_ref,
                "dirty": snap.dirty,
                "summary": snap.summary,
                "at": _iso(self.last_snapshot_at),
            },
            "snapshots_created": self.snapshots_created,
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "failures": self._failures,  # snapshots failed in a row (0: the last one worked)
            "quiet_period": self.settings.quiet_period,
            "max_wait": self.settings.max_wait,
            "rss_bytes": psutil.Process().memory_info().rss,
            "maintenance": self.maintenance.status(),
            "log": str(self.files.log),
        }

    # -- lifecycle --------------------------------------------------------------------

    def run(self, tell: Callable[[str], None] = lambda state: None) -> None:
        """Watch, reconcile, serve until a signal or a stop request; then clean up.

        ``tell`` hears ``READY=1`` once the first reconcile is done (sd_notify's words).
        """
        state_files.ensure_dir(self.files.cookies)
        for stale in self.files.cookies.iterdir():
            stale.unlink()
        self._make_spare_cookie()
        worker = threading.Thread(target=self._snapshot_loop, name="snapshot", daemon=True)
        try:
            self._start_watching()
            self._process(Batch(set(), True, {"start"}, [], None))  # the first full reconcile
            self._server = ControlServer(self.files.socket, self.handle)
            self._server.start()
            self._make_objects_ahead()
            worker.start()
            self.maintenance.start()
            self._trees.start()  # the first run's context costs no process start
            log.info("ready (pid %d)", os.getpid())
            tell(f"READY=1\nMAINPID={os.getpid()}")
            self._stop.wait()
        finally:
            log.info("stopping")
            tell("STOPPING=1")
            if self._server is not None:
                self._server.stop()
            self.pending.close()
            if worker.is_alive():
                worker.join()  # lets a snapshot in flight finish
            self.maintenance.stop()
            self.pending.abandon_requests("the daemon is stopping")
            if self._watcher is not None:
                self._watcher.stop()
            if self._ahead_maker is not None:
                self._ahead_maker.join()  # it stops at the next file: none is left made
            self.pipes.close()
            self._trees.close()
            if self._describer is not None:
                self._describer.shutdown()
            self._summaries.close()
            log.info("stopped")

    def stop(self) -> None:
        self._stop.set()
