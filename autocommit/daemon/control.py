"""The daemon's control channel: its files under the state dir and the socket protocol.

One request per connection: the client sends one JSON object and a newline, the daemon
answers with one JSON object and a newline (``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``). The socket lives in the worktree's state dir (mode
0700) and is itself mode 0600, so only its owner can reach the daemon.

This module is imported by the git hooks and the MLflow plugin: standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocommit import locks
from autocommit.gitio.repo import Worktree
from autocommit.state_layout import DAEMON_SOCKET

MAX_MESSAGE = 16 * 1024 * 1024  # an answer (a snapshot may list many files left out)
MAX_REQUEST = 512 * 1024  # a request: a few fields and a run's context; no more is read
# A sync request's "context" when the run's context files follow in a second message.
CONTEXT_FOLLOWS = "follows"
# The same, once the daemon's first answer said where names came and went (name_log).
CONTEXT_AFTER_NAMES = "follows the names"
# How a daemon refuses a "context" it does not know (one from before CONTEXT_AFTER_NAMES,
# left running across an upgrade, says so of that value).
UNKNOWN_CONTEXT = "bad context: a non-empty object of file names and texts"
EXIT_ALREADY_RUNNING = 3  # a daemon's exit status when another one holds the lock
# sun_path holds 108 bytes; longer socket paths are reached through /proc/self/fd.
_MAX_SOCKET_PATH = 100


class DaemonUnavailable(Exception):
    """No daemon answered on the control socket."""


# What reads the daemon's first answer to a request (None: none comes before the last).
FirstAnswer = Callable[[], "dict[str, Any] | None"]


class _FirstAnswer:
    """Reads the daemon's first answer once, when first called. A refusal (the last
    answer, with ``ok`` in it) reads as None, and is kept in :attr:`refusal`."""

    def __init__(self, reader: MessageReader | None) -> None:
        self._reader = reader
        self._read = reader is None
        self._answer: dict[str, Any] | None = None
        self.refusal: dict[str, Any] | None = None

    def __call__(self) -> dict[str, Any] | None:
        if not self._read:
            assert self._reader is not None
            self._read = True
            answer = self._reader.read(MAX_MESSAGE)
            if "ok" in answer:
                self.refusal = answer
            else:
                self._answer = answer
        return self._answer


@dataclass(frozen=True)
class DaemonFiles:
    """Where one worktree's daemon keeps its lock, pid, socket and logs."""

    dir: Path

    @classmethod
    def of(cls, worktree: Worktree) -> DaemonFiles:
        return cls(worktree.state_dir)

    @property
    def lock(self) -> Path:
        return self.dir / "daemon.lock"  # flock held for the daemon's whole life

    @property
    def pid(self) -> Path:
        return self.dir / "daemon.pid"

    @property
    def socket(self) -> Path:
        return self.dir / DAEMON_SOCKET

    @property
    def log(self) -> Path:
        return self.dir / "daemon.log"

    @property
    def output(self) -> Path:
        return self.dir / "daemon.out"  # stdout/stderr of a daemon started in the background

    @property
    def cookies(self) -> Path:
        return self.dir / "cookies"

    def read_pid(self) -> int | None:
        try:
            return int(self.pid.read_text().strip())
        except (OSError, ValueError):
            return None

    def lock_is_held(self) -> bool:
        """Whether a live daemon holds the lock (the kernel drops it when a holder dies)."""
        return locks.is_held(self.lock)


@contextlib.contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """An address for ``path`` short enough for ``AF_UNIX`` (bind or connect within)."""
    text = str(path)
    if len(text.encode()) <= _MAX_SOCKET_PATH:
        yield text
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class MessageTooLarge(ValueError):
    """A message longer than the reader accepts (it stops reading there)."""


class MessageReader:
    """Newline-terminated JSON objects read from a socket one after another (a request
    may be followed by more on the same connection)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def read(self, limit: int = MAX_MESSAGE) -> dict[str, Any]:
        """The next object, of at most ``limit`` bytes (reading stops there)."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > limit:
                raise MessageTooLarge(f"a control message is at most {limit} bytes")
            chunk = self._sock.recv(min(65536, limit + 1 - len(self._buffer)))
            if not chunk:
                raise ConnectionError("the connection closed before a whole message arrived")
            self._buffer += chunk
        end = self._buffer.index(b"\n")
        if end > limit:
            raise MessageTooLarge(f"a control message is at most {limit} bytes")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError("a control message must be a JSON object")
        return message


def read_message(sock: socket.socket, limit: int = MAX_MESSAGE) -> dict[str, Any]:
    """Read one newline-terminated JSON object of at most ``limit`` bytes."""
    return MessageReader(sock).read(limit)


def request(
    worktree: Worktree,
    message: dict[str, Any],
    timeout: float,
    then: Callable[[FirstAnswer], dict[str, Any]] | None = None,
    first: bool = False,
) -> dict[str, Any]:
    """Send one request to the worktree's daemon and return its answer.

    ``then``: called once the request is sent (its work overlaps with the daemon's);
    what it returns is sent as a second message on the same connection. When ``first``
    says the daemon answers once before the last, ``then`` reads that answer by calling
    its argument, only when it needs it (else None), so that what needs no answer is
    done while it is on its way. A first answer with ``ok`` in it is the last (a
    refusal): ``then`` reads None, and that answer is returned unanswered.
    Raises :class:`DaemonUnavailable` when no daemon listens or it does not answer in time.
    """
    path = DaemonFiles.of(worktree).socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            with socket_address(path) as address:
                sock.connect(address)
            reader = MessageReader(sock)
            # A daemon that refuses a request stops reading it: its answer says why.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(encode(message))
                if then is not None:
                    before = _FirstAnswer(reader if first else None)
                    second = then(before)
                    before()  # read before the last, when ``then`` did not need it
                    if before.refusal is not None:
                        return before.refusal
                    sock.sendall(encode(second))
            return reader.read(MAX_MESSAGE)
        except (ValueError, ConnectionError) as exc:
            raise DaemonUnavailable(f"no usable answer from the daemon: {exc}") from exc
        except OSError as exc:  # no socket, refused, timed out, permission denied, …
            raise DaemonUnavailable(str(exc) or type(exc).__name__) from exc
