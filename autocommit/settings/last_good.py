"""The settings last read successfully in a working tree, kept for when they cannot be.

Saved as what the files said (raw values and where they were found, before environment
variables apply) in ``<git-dir>/autocommit/settings.json``, rewritten only when that
changes.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from autocommit import state_files
from autocommit.gitio.repo import Worktree

Sources = dict[str, tuple[Any, str]]  # setting → (raw value, where it was found)

_written: dict[Path, str] = {}  # per working tree, the text this process read or wrote


def _path(worktree: Worktree) -> Path:
    return worktree.state_dir / "settings.json"


def keep(worktree: Worktree, sources: Sources) -> None:
    """Remember ``sources`` as the last good settings (a write only when they changed)."""
    text = json.dumps({key: [value, origin] for key, (value, origin) in sources.items()})
    if _written.get(worktree.root) is None:
        with contextlib.suppress(OSError):
            _written[worktree.root] = _path(worktree).read_text(encoding="utf-8")
    if _written.get(worktree.root) == text:
        return
    with contextlib.suppress(OSError):  # best effort: only a fallback depends on it
        state_files.ensure_dir(worktree.state_dir)
        state_files.write_atomically(_path(worktree), text.encode())
        _written[worktree.root] = text


def read(worktree: Worktree) -> Sources | None:
    """The last good settings, or None when there are none (or they are unreadable)."""
    try:
        raw = json.loads(_path(worktree).read_text(encoding="utf-8"))
        return {str(key): (value, str(origin)) for key, (value, origin) in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return None
