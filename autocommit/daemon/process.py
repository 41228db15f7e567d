"""The daemon as a process: one per working tree, its pid file, log, signals, systemd.

``autocommit run --foreground`` lands here; ``autocommit start`` runs the same in the
background (see :mod:`autocommit.daemon.client`).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import signal
import socket
import sys
from collections.abc import Iterator

from autocommit import locks, log_files, state_files
from autocommit.daemon.control import EXIT_ALREADY_RUNNING, DaemonFiles
from autocommit.daemon.service import Daemon
from autocommit.errors import AutocommitError
from autocommit.gitio.repo import Worktree
from autocommit.settings import config

log = logging.getLogger("autocommit.daemon")

LOG_BYTES = 1024 * 1024
LOG_BACKUPS = 3


class DaemonAlreadyRunning(AutocommitError):
    exit_code = EXIT_ALREADY_RUNNING


def _tell_systemd(state: str) -> None:
    """sd_notify(3) for a `Type=notify` unit; nothing outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.sendall(state.encode())
        except OSError as exc:
            log.warning("cannot notify systemd: %s", exc)


@contextlib.contextmanager
def _only_daemon(files: DaemonFiles, worktree: Worktree) -> Iterator[None]:
    """Hold the worktree's daemon lock (a flock: the kernel drops it if we die)."""
    # A client may hold a shared lock for an instant (DaemonFiles.lock_is_held).
    with locks.held(files.lock, 1.0, poll=0.02) as fd:
        if fd is None:
            pid = files.read_pid()
            raise DaemonAlreadyRunning(
                f"a daemon already watches {worktree.root}" + (f" (pid {pid})" if pid else ""),
                "`autocommit status` shows it, `autocommit stop` ends it",
            )
        state_files.write_atomically(files.pid, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            if files.read_pid() == os.getpid():  # not a new daemon's (a re-created tree)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(files.pid)


def _setup_logging(files: DaemonFiles, to_stderr: bool) -> None:
    root = logging.getLogger("autocommit")
    root.setLevel(logging.INFO)
    handler = log_files.PrivateLog(
        files.log, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root.addHandler(handler)
    if to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("autocommit: %(message)s"))
        root.addHandler(stream)
    logging.getLogger("watchdog").setLevel(logging.ERROR)  # overflows are logged by us


def run_foreground(worktree: Worktree) -> int:
    """Run the daemon in this process until SIGTERM/SIGINT/SIGHUP or `autocommit stop`."""
    files = DaemonFiles.of(worktree)
    to_stderr = sys.stderr.isatty() or "JOURNAL_STREAM" in os.environ
    # Whoever started us made the directory: log from before the settings are read, so
    # that what reading them warns about (a repository file's refused key) is logged.
    logging_ready = files.dir.is_dir()
    if logging_ready:
        _setup_logging(files, to_stderr)
    settings, broken = config.load_or_last_good(worktree)
    if broken is not None:
        log.warning("%s; using the settings last read", broken.one_line())
    if not settings.enabled:
        raise AutocommitError(
            f"autocommit is not enabled in {worktree.root}", "run `autocommit init` first"
        )
    state_files.ensure_dir(files.dir)
    state_files.narrow(files.dir)  # files an older version made readable by others
    with _only_daemon(files, worktree):
        if not logging_ready:
            _setup_logging(files, to_stderr)
        daemon = Daemon(worktree, settings)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: daemon.stop())
        log.info("starting for %s (pid %d)", worktree.root, os.getpid())
        daemon.run(tell=_tell_systemd)
    return 0
