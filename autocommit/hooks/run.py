"""What a git hook does: ``autocommit hook <name> <args>``.

git moved HEAD (a commit, checkout, merge or rewrite), so the shadow branch must follow.
The work happens after the git command has returned (the installed scripts start this in
the background; under the pre-commit framework it waits for the framework to exit,
because the framework hides unstaged changes while its hooks run). It then waits for git
to be idle in the worktree, and either tells the running daemon, starts one (setting
``autostart``), or takes one full snapshot itself.

Events that arrive while one is being handled are coalesced: each marks the work pending
and the process holding the hook lock handles whatever is pending, so a burst of commits
costs one or two snapshots, not one each. During a rebase nothing happens until its end
(post-rewrite), which reconciles once.

It never raises: an error becomes one line on stderr and in ``<state dir>/hooks.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from autocommit import locks, state_files
from autocommit.errors import AutocommitError
from autocommit.gitio.repo import Worktree, find_worktree

if TYPE_CHECKING:
    from autocommit.settings.config import Settings

HOOK_NAMES = ("post-commit", "post-checkout", "post-merge", "post-rewrite")
PENDING = "hook.pending"
LOCK = "hook.lock"
LOG = "hooks.log"
MAX_LOG_BYTES = 256 * 1024
SETTLE_TIMEOUT = 10.0  # how long to wait for git to be done with the worktree
FRAMEWORK_TIMEOUT = 300.0  # how long to wait for the pre-commit framework to finish
LOCK_TIMEOUT = 120.0
READY_TIMEOUT = 10.0  # how long a framework hook waits for its detached process to load

# The pre-commit framework passes a hook's arguments in these variables instead.
_FRAMEWORK_ARGS: dict[str, tuple[str, ...]] = {
    "post-commit": (),
    "post-checkout": ("PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF", "PRE_COMMIT_CHECKOUT_TYPE"),
    "post-merge": ("PRE_COMMIT_IS_SQUASH_MERGE",),
    "post-rewrite": ("PRE_COMMIT_REWRITE_COMMAND",),
}


def hook_arguments(name: str, args: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The arguments git gave the hook: ``args``, or the pre-commit framework's variables."""
    if args or environ.get("PRE_COMMIT") != "1":
        return list(args)
    return [environ[v] for v in _FRAMEWORK_ARGS.get(name, ()) if environ.get(v)]


def rebase_in_progress(git_dir: Path) -> bool:
    return (git_dir / "rebase-merge").is_dir() or (git_dir / "rebase-apply").is_dir()


def ends_rebase(name: str, args: Sequence[str]) -> bool:
    """post-rewrite fires once at the end of a rebase (with the rebase state still there)."""
    return name == "post-rewrite" and list(args[:1]) == ["rebase"]


def hook_worktree(environ: Mapping[str, str]) -> Worktree | None:
    """The worktree the hook runs for (git runs hooks at its top), or None.

    The variables git exports to hooks (``GIT_DIR``, ``GIT_INDEX_FILE``, …) are scrubbed
    from every git call; ``GIT_DIR`` only serves to check that git works on this
    worktree, not on another repository named by ``--git-dir``.
    """
    try:
        worktree = find_worktree(Path.cwd())
    except AutocommitError:
        return None
    named = environ.get("GIT_DIR")
    if named and Path(named).resolve() != worktree.git_dir.resolve():
        return None
    return worktree


def run(
    name: str,
    args: Sequence[str] = (),
    *,
    after_pid: int | None = None,
    environ: Mapping[str, str] | None = None,
    ready_fd: int | None = None,
) -> str:
    """Handle one hook event; returns what was done. Never raises."""
    environ = os.environ if environ is None else environ
    worktree = None
    try:
        args = hook_arguments(name, args, environ)
        worktree = hook_worktree(environ)
        if worktree is None:
            return "skipped: not in a working tree of this repository"
        return _handle(worktree, name, args, after_pid, environ, ready_fd)
    except Exception as exc:  # a hook must never fail the user's git command
        if worktree is not None:  # given up: a later hook tries again
            with contextlib.suppress(OSError):
                (worktree.state_dir / PENDING).unlink(missing_ok=True)
        return _report(worktree, name, exc)


def started_by_git(environ: Mapping[str, str]) -> bool:
    """Whether git runs this hook (directly, through the pre-commit framework, husky or
    lefthook): git exports ``GIT_EXEC_PATH`` to every hook, a shell does not have it.
    Only then must an error leave the exit status alone (a failing ``post-checkout``
    would make ``git checkout`` fail)."""
    return bool(environ.get("GIT_EXEC_PATH"))


def _report(worktree: Worktree | None, name: str, exc: Exception) -> str:
    """One line on stderr and in the log."""
    what = exc.one_line() if isinstance(exc, AutocommitError) else repr(exc)
    print(f"autocommit: {name} hook: {what} (your git command was not affected)", file=sys.stderr)
    if worktree is not None:  # ImportError: an environment pre-commit deleted meanwhile
        with contextlib.suppress(OSError, ImportError):
            log(worktree, name, f"error: {what}")
    return f"error: {what}"


def _handle(
    worktree: Worktree,
    name: str,
    args: list[str],
    after_pid: int | None,
    environ: Mapping[str, str],
    ready_fd: int | None = None,
) -> str:
    from autocommit.settings import config

    if rebase_in_progress(worktree.git_dir) and not ends_rebase(name, args):
        return "skipped: a rebase is in progress; its end reconciles once"
    settings = config.load(worktree.root)
    if not settings.enabled:
        with contextlib.suppress(OSError):
            (worktree.state_dir / PENDING).unlink(missing_ok=True)
        return "skipped: autocommit is not enabled here"
    _mark_pending(worktree, name, args)
    if environ.get("PRE_COMMIT") == "1" and after_pid is None:
        _defer_until_exit(worktree, name, args, os.getppid())
        return "deferred until the pre-commit framework is done"
    if after_pid is not None:
        _import_the_work()
        if ready_fd is not None:  # the framework may now exit, and delete what we run from
            os.close(ready_fd)
        _wait_for_exit(after_pid, FRAMEWORK_TIMEOUT)
    done = "nothing left to do"
    with _hook_lock(worktree, LOCK_TIMEOUT) as held:
        if not held:
            raise AutocommitError(f"another hook kept {LOCK} for {LOCK_TIMEOUT:.0f}s")
        while (event := _take_pending(worktree, (name, args))) is not None:
            try:
                done = _reconcile(worktree, settings, *event)
            except Exception as exc:
                done = _report(None, event[0], exc)  # logged below; go on with what is pending
            log(worktree, event[0], done)
    return done


def _reconcile(worktree: Worktree, settings: Settings, name: str, args: list[str]) -> str:
    from autocommit.daemon import client

    if not _settle(worktree, name, args):
        return "skipped: a rebase is in progress; its end reconciles once"
    if client.notify(worktree, name, args):
        return "told the daemon"
    if settings.autostart and Path(sys.prefix).is_dir():  # see _import_the_work
        pid = client.start(worktree, wait=False)
        return f"started the daemon (pid {pid}), which reconciles as it starts"
    from autocommit.engine import maintenance
    from autocommit.engine.snapshot import take_snapshot

    snap = take_snapshot(worktree, settings=settings)
    packing = " (packing loose objects)" if maintenance.start_in_background(worktree) else ""
    return f"snapshot {snap.commit[:12]} for {snap.shadow_ref}{packing}"


def _settle(worktree: Worktree, name: str, args: list[str]) -> bool:
    """Wait until git is done with the worktree; False when a rebase is still under way."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        busy = rebase_in_progress(worktree.git_dir) or (worktree.git_dir / "index.lock").exists()
        if not busy:
            return True
        time.sleep(0.02)
    return ends_rebase(name, args) or not rebase_in_progress(worktree.git_dir)


def _defer_until_exit(worktree: Worktree, name: str, args: list[str], pid: int) -> None:
    """Handle the event in a detached process once ``pid`` (the framework) has exited.

    Returns once that process has imported what it needs (it closes its end of a pipe):
    the framework may delete the environment both run from as soon as this returns."""
    from autocommit.gitio import git

    ready, child_end = os.pipe()
    command = [sys.executable, "-m", "autocommit", "hook", "--after-pid", str(pid),
               "--ready-fd", str(child_end), name, *args]  # fmt: skip
    try:
        subprocess.Popen(
            command,
            cwd=worktree.root,
            env=git.scrubbed_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            pass_fds=(child_end,),
        )
    finally:
        os.close(child_end)
    try:
        select.select([ready], [], [], READY_TIMEOUT)  # readable at end of file
    finally:
        os.close(ready)


def _import_the_work() -> None:
    """Import now every module handling the event needs. The pre-commit framework may
    delete the environment this process runs from as it exits (``pre-commit try-repo``
    does): once it is gone, only what is imported already can run, and a daemon cannot
    be started from it (the event is then handled with a snapshot)."""
    import psutil  # noqa: F401  (client.start)

    from autocommit import log_files  # noqa: F401
    from autocommit.daemon import client  # noqa: F401
    from autocommit.engine import maintenance, run_commit, snapshot  # noqa: F401
    from autocommit.settings import config  # noqa: F401


def _wait_for_exit(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass  # alive, someone else's
        time.sleep(0.02)


# --- pending work and the hook lock ---------------------------------------------------


def _mark_pending(worktree: Worktree, name: str, args: list[str]) -> None:
    state_files.ensure_dir(worktree.state_dir)
    data = json.dumps({"event": name, "args": args}).encode()
    state_files.write_atomically(worktree.state_dir / PENDING, data)


def _take_pending(
    worktree: Worktree, default: tuple[str, list[str]]
) -> tuple[str, list[str]] | None:
    """The latest pending event (``default`` when the hook script only marked it), or None."""
    path = worktree.state_dir / PENDING
    try:
        text = path.read_text(encoding="utf-8")
        path.unlink()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        return str(data["event"]), [str(a) for a in data["args"]]
    except (ValueError, KeyError, TypeError):
        return default


@contextlib.contextmanager
def _hook_lock(worktree: Worktree, timeout: float) -> Iterator[bool]:
    state_files.ensure_dir(worktree.state_dir)
    with locks.held(worktree.state_dir / LOCK, timeout, poll=0.01) as fd:
        yield fd is not None


def wait_for_hooks(worktree: Worktree, timeout: float = 60.0) -> bool:
    """Wait until no hook work is pending or running for ``worktree``; False on timeout.

    The installed scripts mark the work pending before git returns, so after a git
    command this returns only once that command's hooks are done.
    """
    if not worktree.state_dir.is_dir():
        return True  # autocommit never ran here
    deadline = time.monotonic() + timeout
    while True:
        if not (worktree.state_dir / PENDING).exists():
            with _hook_lock(worktree, max(0.0, deadline - time.monotonic())) as held:
                if held and not (worktree.state_dir / PENDING).exists():
                    return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def log(worktree: Worktree, name: str, message: str) -> None:
    """One line in ``<state dir>/hooks.log`` (the previous log kept as ``hooks.log.1``)."""
    from autocommit import log_files  # logging.handlers: only once there is a line to log

    log_files.append_line(worktree.state_dir / LOG, f"{name}: {message}", MAX_LOG_BYTES)
