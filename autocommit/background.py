"""An ``autocommit`` command started in the background: detached from the caller, its
output in a private log, reaped when it ends. Standard library and :mod:`state_files`
only (the base layer)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from autocommit import state_files


def start(root: Path, args: Sequence[str], log: Path, env: Mapping[str, str]) -> None:
    """``python -m autocommit -C <root> <args>`` in a session of its own (it outlives the
    caller), appending to ``log`` (0600). A thread reaps it, so a long-lived caller (a
    notebook, the daemon) collects no zombies. Raises OSError when it cannot start."""
    state_files.ensure_dir(log.parent)
    with state_files.open_file(log, "ab") as output:
        child = subprocess.Popen(
            [sys.executable, "-m", "autocommit", "-C", str(root), *args],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    name = f"autocommit-{args[0]}-reaper" if args else "autocommit-reaper"
    threading.Thread(target=child.wait, name=name, daemon=True).start()
