"""``session.py``: the cells a real Jupyter kernel executed, never saved to any notebook."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autocommit import contract
from tests.support.daemon import enable
from tests.support.git import git

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")


@pytest.fixture
def kernel(repo: Path, tmp_path: Path) -> Iterator[Any]:
    """A real ipykernel, started in the enabled repository, as a notebook server would."""
    from jupyter_client.manager import start_new_kernel

    enable(repo)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(repo), env=env)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client: Any, code: str) -> str:
    """Run one cell; its standard output (a failing cell fails the test)."""
    out: list[str] = []

    def hook(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream" and message["content"]["name"] == "stdout":
            out.append(message["content"]["text"])

    reply = client.execute_interactive(code, timeout=120, output_hook=hook)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


def expected(cells: list[str]) -> str:
    return "".join(f"# In[{n}]:\n{cell.rstrip()}\n\n" for n, cell in enumerate(cells, start=1))


def test_session_holds_the_cells_executed_in_the_kernel(kernel: Any, repo: Path) -> None:
    cells = [
        "import mlflow\nlr = 0.1",
        "def train(rate):\n    return rate * 2  # edited in the notebook, never saved",
        "lr = 0.05\n%whos",
        "with mlflow.start_run() as run:\n    print(run.data.tags['autocommit.context'])",
    ]
    for cell in cells[:-1]:
        execute(kernel, cell)
    first = execute(kernel, cells[-1]).strip()
    assert git(repo, "show", f"{first}:{contract.CONTEXT_SESSION}") == expected(cells)
    cells.append("print(__import__('autocommit').mlflow_tags()['autocommit.context'])")
    second = execute(kernel, cells[-1]).strip()
    assert git(repo, "show", f"{second}:{contract.CONTEXT_SESSION}") == expected(cells)
    head = git(repo, "rev-parse", "HEAD").strip()  # clean code: the run commit is HEAD
    assert git(repo, "rev-parse", f"{first}^", f"{second}^").split() == [head, head]
    assert list(repo.glob("*.ipynb")) == []


def test_session_holds_the_lines_typed_into_the_plain_repl(repo: Path, tmp_path: Path) -> None:
    """The interactive interpreter on a terminal (a pseudo-terminal here); lines of
    earlier sessions, read from ``~/.python_history`` at start-up, are left out."""
    import pty
    import select
    import sys
    import time

    enable(repo)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".python_history").write_text("password = 'earlier session'\nprint(1)\n")
    os.utime(home / ".python_history", (time.time() - 60, time.time() - 60))
    lines = ["import autocommit", "lr = 0.5",
             "print('CONTEXT', autocommit.mlflow_tags()['autocommit.context'])"]  # fmt: skip
    pid, fd = pty.fork()
    if pid == 0:  # the child: an interactive Python in the repository
        os.chdir(repo)
        os.execve(sys.executable, [sys.executable, "-q"],
                  {**os.environ, "HOME": str(home), "TERM": "dumb"})  # fmt: skip

    def read_prompt() -> bytes:
        seen, deadline = b"", time.monotonic() + 60
        while not seen.endswith(b">>> ") and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                seen += os.read(fd, 4096)
        return seen

    try:
        read_prompt()
        for line in lines:
            os.write(fd, line.encode() + b"\n")
            out = read_prompt().decode(errors="replace")
        os.write(fd, b"exit()\n")
    finally:
        os.waitpid(pid, 0)
        os.close(fd)
    context = out.split("CONTEXT ")[1].split()[0]
    assert git(repo, "show", f"{context}:{contract.CONTEXT_SESSION}") == expected(lines)
