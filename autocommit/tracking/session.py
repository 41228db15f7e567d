"""``session.py`` of a run's context: the code typed into the IPython kernel or the REPL.

In a notebook the code that ran is the cells executed in the kernel, in the order they
ran, which the ``.ipynb`` on disk may not hold (unsaved, edited since, run out of order).
IPython keeps every cell as it was typed in its history manager (``In``), the cell that
starts the run included (it is stored before it executes); the plain REPL keeps its
lines in ``readline``'s history. Each cell is preceded by a comment line with its
execution number. The text is code and is kept as it is, secrets typed into it included:
``context_session = false`` turns it off (README "What exactly ran").
"""

from __future__ import annotations

import sys
from typing import Any


def session_text() -> str | None:
    """Every cell or statement executed so far in this interactive session, or None when
    the process is not one (a script, a test runner, a worker)."""
    shell = _ipython()
    if shell is not None:
        return _ipython_text(shell)
    if hasattr(sys, "ps1"):  # the plain interactive interpreter
        return _repl_text()
    return None


def _ipython() -> Any:
    module = sys.modules.get("IPython")  # never imported here: only when already running
    if module is None:
        return None
    try:
        return module.get_ipython()
    except Exception:
        return None


def _ipython_text(shell: Any) -> str:
    cells: list[str] = list(shell.history_manager.input_hist_raw)
    return "".join(
        f"# In[{number}]:\n{cell.rstrip()}\n\n" for number, cell in enumerate(cells) if number
    )


def _repl_text() -> str | None:
    try:
        import readline
    except ImportError:
        return None
    count = readline.get_current_history_length()
    first = _earlier_sessions() + 1
    lines = [readline.get_history_item(number) for number in range(first, count + 1)]
    return "".join(f"# In[{number}]:\n{line}\n\n" for number, line in enumerate(lines, start=1)
                   if line is not None)  # fmt: skip


def _earlier_sessions() -> int:
    """How many history lines the REPL read at start-up from the history file (earlier
    sessions' lines), which it rewrites only at exit: the file's lines while it is older
    than this process."""
    import os

    import psutil

    path = os.environ.get("PYTHON_HISTORY") or os.path.expanduser("~/.python_history")
    try:
        if os.stat(path).st_mtime >= psutil.Process().create_time():
            return 0
        with open(path, "rb") as file:
            return sum(1 for _ in file)
    except (OSError, psutil.Error):
        return 0
