"""The daemon's side of the control socket: accept, answer, one thread per request.

Blocking ``accept`` (no polling loop), so an idle daemon wakes up for nothing. Only the
socket's owner can connect: the socket is created mode 0600 inside a 0700 directory,
and a peer of another uid is refused (``SO_PEERCRED``) should the modes be loosened.

Bounded, so that no client (a runaway script of the user's) can grow the daemon: a
request larger than :data:`~autocommit.control.MAX_REQUEST` is answered with an error
as soon as that many bytes arrived, and at most :data:`MAX_CLIENTS` requests are served
at once. Further connections wait in the kernel's listen queue (their bytes in the
kernel, not here) until one is done; a client that cannot wait gives up at its own
timeout, as with a busy daemon.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autocommit.daemon.control import MAX_REQUEST, MessageReader, encode, socket_address

log = logging.getLogger(__name__)

# A request, what reads the next message of the same connection (a request may say that
# more follows, such as a run's context files), and what sends an answer before the last.
Handler = Callable[
    [dict[str, Any], Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]],
    dict[str, Any],
]
MAX_CLIENTS = 32  # requests served at once (a sync waits for a snapshot: they add up)
BACKLOG = 128  # connections waiting for one of them
READ_TIMEOUT = 10.0  # a request arrives at once; a client silent this long is dropped


def _peer_uid(conn: socket.socket) -> int:
    if not hasattr(socket, "SO_PEERCRED"):  # not Linux: the file modes alone protect it
        return os.getuid()
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._bound: tuple[int, int] | None = None  # the socket file this server made
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)

    def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # left by a daemon that was killed
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # born 0600: no window where others could connect
        try:
            with socket_address(self.path) as address:
                sock.bind(address)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        self._bound = _inode(self.path)
        sock.listen(BACKLOG)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="control", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._closing:
            if not self._slots.acquire(timeout=1.0):
                continue  # all busy: wait for one (only then is _closing looked at again)
            try:
                conn, _ = self._sock.accept()
            except OSError:
                self._slots.release()
                if self._closing:
                    return
                log.exception("control socket accept failed")
                continue
            threading.Thread(target=self._serve, args=(conn,), name="request", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._answer(conn)
        finally:
            self._slots.release()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                if _peer_uid(conn) != os.getuid():
                    conn.sendall(encode({"ok": False, "error": "not the owner of this daemon"}))
                    return
                reader = MessageReader(conn)
                conn.settimeout(READ_TIMEOUT)
                message = reader.read(MAX_REQUEST)
                conn.settimeout(None)
                answer = self.handler(
                    message, lambda: _read_more(conn, reader), lambda m: conn.sendall(encode(m))
                )
            except (OSError, ValueError) as exc:
                log.debug("bad control request: %s", exc)
                answer = {"ok": False, "error": f"bad request: {exc}"}
            except Exception as exc:  # a bug must not take the daemon down
                log.exception("control request failed")
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            with contextlib.suppress(OSError):
                conn.sendall(encode(answer))

    def stop(self) -> None:
        self._closing = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept
            self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        # Only its own: a repository removed and created anew at the same path may have
        # a new daemon listening there already.
        if self._bound is not None and _inode(self.path) == self._bound:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def _read_more(conn: socket.socket, reader: MessageReader) -> dict[str, Any]:
    """The next message of a request, bounded as the request is."""
    conn.settimeout(READ_TIMEOUT)
    try:
        return reader.read(MAX_REQUEST)
    finally:
        conn.settimeout(None)


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino
