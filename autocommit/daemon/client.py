"""Talking to a worktree's watch daemon: start, stop, status, sync barrier, notify.

Cheap to import (the git hooks and the MLflow plugin use it): the engine is imported
only when a snapshot comes back.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from autocommit import state_files
from autocommit.daemon.control import (
    CONTEXT_AFTER_NAMES,
    CONTEXT_FOLLOWS,
    EXIT_ALREADY_RUNNING,
    MAX_REQUEST,
    UNKNOWN_CONTEXT,
    DaemonFiles,
    DaemonUnavailable,
    FirstAnswer,
    encode,
    request,
)
from autocommit.errors import AutocommitError
from autocommit.gitio.repo import Worktree

if TYPE_CHECKING:
    from autocommit.engine.run_commit import PinnedRun
    from autocommit.engine.snapshot import Snapshot

log = logging.getLogger(__name__)


SYNC_MARGIN = 1.0  # seconds: the most the daemon's wait for a sync is shorter than ours


def _ask(worktree: Worktree, op: str, socket_timeout: float, **fields: Any) -> dict[str, Any]:
    return request(worktree, {"op": op, **fields}, socket_timeout)


def is_running(worktree: Worktree) -> bool:
    """Whether a daemon for this worktree answers on its control socket."""
    try:
        _ask(worktree, "ping", 2.0)
    except DaemonUnavailable:
        return False
    return True


def sync(worktree: Worktree, timeout: float = 5.0) -> Snapshot | None:
    """The snapshot of the tree including every change made before this call.

    None when no daemon answers (none runs, or it could not snapshot in time): the
    caller then snapshots in-process, which is exact too, only slower.
    """
    answer = _sync(worktree, timeout, for_run=False)
    if answer is None:
        return None
    from autocommit.engine.snapshot import Snapshot

    return Snapshot.from_dict(answer["snapshot"])


ContextFiles = dict[str, bytes] | None  # a run's context files (None: none)
# Where names came and went in the working tree since a run last asked, as the daemon
# tells it (:mod:`autocommit.daemon.name_log`); None when it cannot tell.
Names = dict[str, Any] | None
# What waits for the daemon to tell that, when first called (it is on its way meanwhile).
NamesLater = Callable[[], Names]
Gather = Callable[[NamesLater], ContextFiles]  # gathers a run's context files


def sync_for_run(
    worktree: Worktree,
    timeout: float = 5.0,
    context: ContextFiles | Gather = None,
    names_since: Names = None,
) -> tuple[Snapshot, PinnedRun | None] | None:
    """:func:`sync`, with the run commit of the snapshot made and pinned by the daemon,
    and the run's change summary (None from a daemon that does not make them).

    ``context``: the run's context files, or what gathers them, called once the request
    is on its way, so that gathering overlaps with the daemon's snapshot, with what tells
    where names came and went since ``names_since`` (the daemon's last such answer to this
    process) when first called; not called when no daemon listens. The daemon makes their
    commit on the run commit and pins it, in the same ref update when they came in time
    (``PinnedRun.context``; None when it did not, or files too large for a request).
    """
    answer = _sync(worktree, timeout, for_run=True, context=context, names_since=names_since)
    if answer is None:
        return None
    from autocommit.engine.run_commit import PinnedRun
    from autocommit.engine.snapshot import Snapshot

    run = answer.get("run")
    return Snapshot.from_dict(answer["snapshot"]), PinnedRun.from_dict(run) if run else None


def _sync(
    worktree: Worktree,
    timeout: float,
    for_run: bool,
    context: ContextFiles | Gather = None,
    names_since: Names = None,
) -> dict[str, Any] | None:
    # The daemon gives up a little earlier than we do, so that its answer still arrives.
    wait = max(0.1, timeout - min(SYNC_MARGIN, timeout / 10))
    fields: dict[str, Any] = {"run": for_run, "timeout": wait}
    then = None
    if context is not None:
        then = functools.partial(_context_message, context)
        fields["context"] = CONTEXT_AFTER_NAMES if callable(context) else CONTEXT_FOLLOWS
        if callable(context):
            fields["names_since"] = names_since
    try:
        answer = request(worktree, {"op": "sync", **fields}, timeout, then=then,
                         first=callable(context))  # fmt: skip
        if callable(context) and answer.get("error") == UNKNOWN_CONTEXT:
            # A daemon from before it told where names came and went (left running
            # across an upgrade): the older form, the context gathered told nothing.
            del fields["names_since"]
            fields["context"] = CONTEXT_FOLLOWS
            answer = request(worktree, {"op": "sync", **fields}, timeout, then=then)
    except DaemonUnavailable as exc:
        log.debug("no sync from the daemon: %s", exc)
        return None
    if not answer.get("ok"):
        log.debug("the daemon could not snapshot: %s", answer.get("error"))
        return None
    return answer


def _context_message(context: ContextFiles | Gather, first: FirstAnswer) -> dict[str, Any]:
    """The message carrying a run's context files (none when they would not fit: the run
    then writes their commit itself), gathered now when ``context`` gathers them, told
    where names came and went by the daemon's ``first`` answer."""

    def names() -> Names:
        return (first() or {}).get("names")

    files = context(names) if callable(context) else context
    if not files:
        return {"context": None}
    texts = {name: text.decode(errors="surrogateescape") for name, text in files.items()}
    message = {"context": texts}
    return message if len(encode(message)) <= MAX_REQUEST else {"context": None}


def notify(worktree: Worktree, event: str, args: Sequence[str] = ()) -> bool:
    """Tell the daemon a git operation happened (a hook ran); False when none runs."""
    try:
        answer = _ask(worktree, "notify", 2.0, event=event, args=list(args))
    except DaemonUnavailable:
        return False
    return bool(answer.get("ok"))


def status(worktree: Worktree) -> dict[str, Any]:
    """What the daemon reports about itself, or why there is none."""
    files = DaemonFiles.of(worktree)
    try:
        answer = _ask(worktree, "status", 2.0)
        answer.pop("ok", None)
        return answer
    except DaemonUnavailable:
        pass
    held = files.lock_is_held()
    pid = files.read_pid()
    return {
        "running": held,
        "state": "starting" if held else "stopped",
        "pid": pid if held else None,
        "stale_pid": pid if pid is not None and not held else None,
        "worktree": str(worktree.root),
        "log": str(files.log),
    }


def _daemon_command(worktree: Worktree) -> list[str]:
    return [sys.executable, "-m", "autocommit", "-C", str(worktree.root), "run", "--foreground"]


def _reap_in_background(proc: subprocess.Popen[bytes]) -> None:
    threading.Thread(target=proc.wait, name="autocommit-reaper", daemon=True).start()


def _startup_error(files: DaemonFiles) -> str:
    try:
        lines = files.output.read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    for line in reversed(lines):
        if line.startswith("autocommit: error: "):
            return line.removeprefix("autocommit: error: ")
    return lines[-1] if lines else "the daemon exited during startup"


def _spawn(worktree: Worktree, files: DaemonFiles) -> subprocess.Popen[bytes]:
    from autocommit.settings import config

    if not config.load(worktree.root).enabled:
        raise AutocommitError(
            f"autocommit is not enabled in {worktree.root}", "run `autocommit init` first"
        )
    state_files.ensure_dir(files.dir)
    with state_files.open_file(files.output, "wb") as output:
        return subprocess.Popen(
            _daemon_command(worktree),
            cwd=worktree.root,  # its git calls scrub what a hook may have exported
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # no controlling terminal: it outlives the shell
            close_fds=True,
        )


def start(worktree: Worktree, wait: bool = True, timeout: float = 30.0) -> int:
    """Start the daemon in the background unless one runs; return its pid.

    With ``wait``, return once it watches the tree and has reconciled it (also when
    another caller is starting it at the same time).
    """
    with contextlib.suppress(DaemonUnavailable):
        return int(_ask(worktree, "ping", 2.0)["pid"])
    files = DaemonFiles.of(worktree)
    proc = None if files.lock_is_held() else _spawn(worktree, files)
    if not wait:
        if proc is None:
            return files.read_pid() or 0
        _reap_in_background(proc)
        return proc.pid
    deadline = time.monotonic() + timeout
    try:
        while True:
            with contextlib.suppress(DaemonUnavailable):
                left = max(0.1, deadline - time.monotonic())
                return int(_ask(worktree, "ping", left)["pid"])
            exited = proc.poll() if proc is not None else None
            held = files.lock_is_held()
            gone = exited is not None and (exited != EXIT_ALREADY_RUNNING or not held)
            if gone or (proc is None and not held):
                raise AutocommitError(
                    f"the daemon did not start: {_startup_error(files)}", f"see {files.log}"
                )
            if time.monotonic() > deadline:
                raise AutocommitError(
                    f"the daemon did not get ready within {timeout:.0f}s",
                    f"see {files.log}; `autocommit status` tells when it is",
                )
            time.sleep(0.02)
    finally:
        if proc is not None and proc.returncode is None:
            _reap_in_background(proc)


def _is_our_daemon(pid: int) -> bool:
    """Guard against a recycled pid in a stale pid file."""
    import psutil

    try:
        cmdline = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return "autocommit" in " ".join(cmdline) and "run" in cmdline


def stop(worktree: Worktree, timeout: float = 10.0) -> bool:
    """Stop the daemon (it finishes a snapshot in flight); False when none was running."""
    files = DaemonFiles.of(worktree)
    try:
        pid: int | None = int(_ask(worktree, "stop", 2.0)["pid"])
    except DaemonUnavailable:
        if not files.lock_is_held():
            return False
        pid = files.read_pid()  # still starting: signal it
        if pid is not None and _is_our_daemon(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while files.lock_is_held():
        if time.monotonic() > deadline:
            raise AutocommitError(
                f"the daemon (pid {pid}) did not stop within {timeout:.0f}s",
                f"see {files.log}; `kill {pid}` ends it",
            )
        time.sleep(0.02)
    return True
