"""The daemon's control socket is bounded: oversized requests get an error without
growing the daemon, concurrent clients are capped, other users are refused, and a sync
waits as long as its client does."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from autocommit.daemon import client, control, server
from autocommit.daemon.control import DaemonFiles, socket_address
from autocommit.gitio.repo import Worktree
from tests.support.git import git

OVERSIZED = 15 * 1024 * 1024


def raw_request(worktree: Worktree, payload: bytes, timeout: float = 60) -> dict[str, Any]:
    """Send ``payload`` as it is; the daemon's answer (it may stop reading early)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        with socket_address(DaemonFiles.of(worktree).socket) as address:
            sock.connect(address)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(payload)
        return control.read_message(sock)


def daemon_process(worktree: Worktree) -> psutil.Process:
    pid = DaemonFiles.of(worktree).read_pid()
    assert pid is not None
    return psutil.Process(pid)


@contextlib.contextmanager
def peak_rss(process: psutil.Process) -> Iterator[list[int]]:
    """The largest RSS seen (sampled every 5 ms) while the block runs."""
    peak = [process.memory_info().rss]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def test_oversized_requests_get_an_error_and_the_daemon_stays_small(daemon: Worktree) -> None:
    process = daemon_process(daemon)
    assert client.sync(daemon, timeout=30) is not None  # warmed up: its normal figure
    idle = process.memory_info().rss
    payload = b'{"op":"ping","pad":"' + b"x" * OVERSIZED + b'"}\n'
    answers: list[dict[str, Any]] = []
    with peak_rss(process) as peak:
        threads = [threading.Thread(target=lambda: answers.append(raw_request(daemon, payload)))
                   for _ in range(20)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(answers) == 20
    for answer in answers:
        assert answer["ok"] is False
        assert f"at most {control.MAX_REQUEST} bytes" in answer["error"]
    assert peak[0] <= 2 * idle, f"idle {idle >> 20} MiB, peak {peak[0] >> 20} MiB"
    assert client.is_running(daemon)


def test_the_client_reads_the_refusal_of_a_request_too_large(daemon: Worktree) -> None:
    answer = control.request(daemon, {"op": "ping", "pad": "x" * 2 * control.MAX_REQUEST}, 30)
    assert answer["ok"] is False and "at most" in answer["error"]


def test_concurrent_clients_are_capped(daemon: Worktree) -> None:
    """Silent clients beyond the cap wait in the kernel's queue: no thread, no memory."""
    process = daemon_process(daemon)
    before = process.num_threads()
    silent: list[socket.socket] = []
    try:
        for _ in range(server.MAX_CLIENTS + 40):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            with socket_address(DaemonFiles.of(daemon).socket) as address:
                sock.connect(address)
            silent.append(sock)
        time.sleep(0.5)
        # A thread per connection would be 72 more; the daemon's own short-lived threads
        # (the one making the next objects' files ahead, say) may come and go meanwhile.
        assert process.num_threads() <= before + server.MAX_CLIENTS + 2
    finally:
        for sock in silent:
            sock.close()
    # Once they are gone the daemon answers again.
    assert client.sync(daemon, timeout=30) is not None


def test_a_sync_waits_as_long_as_its_client(daemon: Worktree) -> None:
    """The daemon used to give up after 5 s whatever the client's timeout."""
    lock_path = daemon.state_dir / "snapshot.lock"
    fd = os.open(lock_path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # no snapshot can be made meanwhile
    release = threading.Timer(7.0, lambda: fcntl.flock(fd, fcntl.LOCK_UN))
    release.start()
    try:
        (daemon.root / "train.py").write_text("lr = 0.5\n")
        started = time.monotonic()
        snap = client.sync(daemon, timeout=30)
        took = time.monotonic() - started
    finally:
        release.join()
        os.close(fd)
    assert snap is not None, f"no snapshot after {took:.1f}s"
    assert 6.5 < took < 25
    assert git(daemon.root, "show", f"{snap.commit}:train.py") == "lr = 0.5\n"


def test_a_short_sync_timeout_is_answered_in_time(daemon: Worktree) -> None:
    fd = os.open(daemon.state_dir / "snapshot.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        (daemon.root / "train.py").write_text("lr = 0.6\n")
        started = time.monotonic()
        answer = control.request(daemon, {"op": "sync", "timeout": 1.5}, 10)
        took = time.monotonic() - started
    finally:
        os.close(fd)
    assert answer == {"ok": False, "error": "no snapshot within 1.5s"}
    assert 1.4 < took < 5


@pytest.mark.parametrize("timeout", ["soon", -1, 1e9, True, None])
def test_a_bad_sync_timeout_is_refused(daemon: Worktree, timeout: object) -> None:
    message: dict[str, object] = {"op": "sync", "timeout": timeout}
    answer = control.request(daemon, message, 30)
    if timeout is None:  # sent as null: the default wait
        assert answer["ok"] is True
    else:
        assert answer["ok"] is False and "bad sync timeout" in answer["error"]


def test_a_refused_request_whose_first_answer_was_awaited_returns_the_refusal(
    daemon: Worktree,
) -> None:
    """A run's request that says an answer comes first, refused at once: what waits for
    the first answer reads None, the refusal is returned, and nothing more is sent."""
    told: list[dict[str, Any] | None] = []

    def then(first: control.FirstAnswer) -> dict[str, Any]:
        told.append(first())
        return {"context": None}

    message = {"op": "sync", "run": True, "timeout": "soon",
               "context": control.CONTEXT_AFTER_NAMES, "names_since": None}  # fmt: skip
    answer = control.request(daemon, message, 30, then=then, first=True)
    assert answer["ok"] is False and "bad sync timeout" in answer["error"], answer
    assert told == [None]
    assert client.is_running(daemon)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another user")
def test_another_user_is_refused_even_through_a_loosened_socket(daemon: Worktree) -> None:
    files = DaemonFiles.of(daemon)
    os.chmod(files.dir, 0o777)
    os.chmod(files.socket, 0o777)
    read, write = os.pipe()
    directory = os.open(files.dir, os.O_RDONLY | os.O_DIRECTORY)
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(f"/proc/self/fd/{directory}/{files.socket.name}")
                # The daemon answers a stranger at once, without reading the request.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(control.encode({"op": "stop"}))
                os.write(write, sock.recv(4096))
        except BaseException as exc:
            os.write(write, repr(exc).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.close(directory)
    os.waitpid(child, 0)
    with os.fdopen(read, "rb") as answer:
        assert b"not the owner of this daemon" in answer.read()
    os.chmod(files.dir, 0o700)
    os.chmod(files.socket, 0o600)
    assert client.is_running(daemon)
