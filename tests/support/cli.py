"""The real command line: in a process of its own (``run_cli``), or in this one
(``main_in_process``, MLflow imported once)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from autocommit import cli


def run_cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m autocommit *args`` in ``cwd``; ``env``: variables added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "autocommit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=None if env is None else {**os.environ, **env},
        timeout=timeout,
    )


def main_in_process(*args: str) -> tuple[int, str, str]:
    """The real CLI, in this process (MLflow is imported once): exit code, stdout, stderr."""
    binary, err = io.BytesIO(), io.StringIO()
    stdout = io.TextIOWrapper(binary, encoding="utf-8", write_through=True)
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, binary.getvalue().decode(errors="replace"), err.getvalue()


def one_line_error(code: int, err: str) -> str:
    assert code != 0
    assert err.count("\n") == 1 and err.startswith("autocommit: error: "), err
    return err
