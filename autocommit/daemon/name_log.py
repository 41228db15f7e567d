"""Where names came and went in the working tree, for the runs' ``data.json`` walks.

A run whose ``data_paths`` match at any depth (the default ``data/``) must know whether
its last walk of the repository still holds: whether a name was created, removed or
renamed in a directory it went through. At a million files that is 50k directories, past
what a run's process may watch. The daemon watches them all already: it numbers every
such event, keeping the path and whether it is a directory's, and a run asks, in its
sync request, what happened since the number it last got. The answer is read after the
request's cookie came through the watch, so it includes every change made before the
request; a run walks again when a name listed is in a directory its walk went through
(and could change what it finds).
"""

from __future__ import annotations

import collections
import threading
from typing import Any

KEPT = 4096  # events remembered; a run asking about older ones walks again
MOST = 1000  # names listed in an answer; with more, the run walks again


class NameLog:
    """Numbered name events (created, removed, renamed) of one watched working tree."""

    def __init__(self, identity: str, kept: int = KEPT) -> None:
        self.identity = identity  # this daemon's: another daemon's numbers mean nothing
        self._lock = threading.Lock()
        self._events: collections.deque[tuple[int, str, bool]] = collections.deque(maxlen=kept)
        self._number = 0
        self._forgotten = 0  # every event up to this number is unknown (lost or dropped)

    def add(self, path: str, directory: bool) -> None:
        """``path`` (relative to the top) came or went; ``directory``: a directory's name."""
        with self._lock:
            if len(self._events) == self._events.maxlen:
                self._forgotten = self._events[0][0]
            self._number += 1
            self._events.append((self._number, path, directory))

    def lose(self) -> None:
        """Events were lost (an overflow, the watch given up): what came before is unknown."""
        with self._lock:
            self._number += 1
            self._forgotten = self._number

    def since(self, asked: Any) -> dict[str, Any]:
        """The answer to a run that last got ``asked`` (``{"daemon", "number"}``, or
        None): this daemon, the latest number, and ``changed``, the ``[path, is a
        directory]`` pairs since, each once (None: unknown, the run walks)."""
        with self._lock:
            number = self._number
            changed: list[list[Any]] | None = None
            if _valid(asked) and asked["daemon"] == self.identity:
                last = asked["number"]
                if self._forgotten <= last <= number:
                    found = {(p, d) for n, p, d in self._events if n > last}
                    if len(found) <= MOST:
                        changed = [[p, d] for p, d in sorted(found)]
        return {"daemon": self.identity, "number": number, "changed": changed}


def _valid(asked: Any) -> bool:
    return (
        isinstance(asked, dict)
        and isinstance(asked.get("daemon"), str)
        and isinstance(asked.get("number"), int)
        and not isinstance(asked.get("number"), bool)
    )
