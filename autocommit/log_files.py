"""autocommit's log files: rotated by the standard library, created mode 0600.

The daemon logs through :class:`PrivateLog` for its lifetime; a hook appends one line
with :func:`append_line`. Both rotate the same way (``logging.handlers``'s size-based
rollover into ``<name>.1``, ``<name>.2``, ...). Standard library and
:mod:`autocommit.state_files` only: the git hooks import it.
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
from pathlib import Path

from autocommit import state_files

STAMP = "%Y-%m-%dT%H:%M:%S"  # local time to the second, as datetime.isoformat gives it


class PrivateLog(logging.handlers.RotatingFileHandler):
    """A size-rotated log, and each file it rotates to, created mode 0600."""

    def _open(self) -> io.TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        fd = state_files.open_fd(Path(self.baseFilename), flags)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def append_line(path: Path, line: str, max_bytes: int, backups: int = 1) -> None:
    """``<time> <line>`` at the end of the log ``path``, rotated first when it would grow
    past ``max_bytes``."""
    handler = _Raising(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    try:
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt=STAMP))
        record = logging.makeLogRecord({"msg": "%s", "args": (line,), "levelno": logging.INFO})
        handler.emit(record)
    finally:
        handler.close()


class _Raising(PrivateLog):
    """Raises what ``emit`` met (a log line is the caller's business, not stderr's)."""

    def handleError(self, record: logging.LogRecord) -> None:
        raise  # emit calls this from its except clause: what it met goes on up
