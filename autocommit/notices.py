"""Messages for the person running the code: warnings said once per process, and notes.

Through the ``autocommit`` logger: a script or notebook shows them on stderr (or wherever
its logging goes), the CLI on stderr, the daemon in its log.
"""

from __future__ import annotations

import sys
import threading

_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time it comes up in this process."""
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    import logging  # here: a new process mostly has nothing to warn about, and it costs ~5 ms

    logging.getLogger("autocommit").warning("autocommit: %s", message)


def note(message: str) -> None:
    """A line for the person at the terminal, kept off stdout (which scripts read)."""
    print(f"autocommit: {message}", file=sys.stderr)
