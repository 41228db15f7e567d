"""Fixtures: real git repositories in temporary directories, isolated from the machine;
real MLflow tracking stores and servers; the distributions of this checkout."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autocommit.gitio import git as autocommit_git
from autocommit.gitio.repo import Worktree
from tests.support.git import new_repository
from tests.support.mlflow import Tracking


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees a clean global git config with an identity, and no AUTOCOMMIT_*."""
    home = tmp_path_factory.mktemp("home")
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in list(os.environ):
        if name.startswith("AUTOCOMMIT_") or name.startswith("MLFLOW_"):
            monkeypatch.delenv(name)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A repository with one commit (``train.py``, ``README.md``) and a clean tree."""
    root = tmp_path / "repo"
    new_repository(
        root, {"train.py": "lr = 0.1\nprint('training')\n", "README.md": "# experiment\n"}
    )
    yield root
    # Removed here with rm, which handles trees deeper than Python's recursion limit
    # (some tests make them); pytest's own cleanup of old temp dirs would fail on one.
    subprocess.run(["rm", "-rf", "--", str(root)], check=False)


@pytest.fixture
def daemon(repo: Path) -> Iterator[Worktree]:
    """``repo``, enabled, with a real watch daemon running (stopped at teardown)."""
    from autocommit.daemon import client
    from tests.support.daemon import enable, stop_for_sure

    worktree = enable(repo)
    client.start(worktree)
    yield worktree
    stop_for_sure(worktree)


@pytest.fixture
def enabled(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``repo``, enabled (as ``autocommit init`` records it, without a daemon), and the
    current directory."""
    from tests.support.daemon import enable

    enable(repo)
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def git_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The git commands autocommit runs (each still runs for real), in order."""
    seen: list[list[str]] = []
    real_run = autocommit_git.run

    def recording_run(args: Any, *rest: Any, **options: Any) -> Any:
        seen.append(list(args))
        return real_run(args, *rest, **options)

    monkeypatch.setattr(autocommit_git, "run", recording_run)
    yield seen


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel ``python -m build`` makes of this checkout."""
    from tests.support.packaging import build

    return build(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="session")
def bare_venv(dists: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed without the mlflow extra (and so
    without MLflow); its python."""
    from tests.support.packaging import fresh_venv

    return fresh_venv(tmp_path_factory.mktemp("bare-venv"), str(dists[1]))


@pytest.fixture(scope="session")
def blank_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty sqlite tracking store with MLflow's tables (migrating one takes seconds)."""
    mlflow = pytest.importorskip("mlflow")
    path = tmp_path_factory.mktemp("store") / "blank.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking(
    tmp_path: Path, blank_store: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Tracking]:
    """A fresh sqlite tracking store of this test's own (the current tracking URI) with a
    current experiment (artifacts outside the repository)."""
    mlflow = pytest.importorskip("mlflow")
    store = tmp_path / "mlflow.db"
    shutil.copyfile(blank_store, store)
    uri = f"sqlite:///{store}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("tests", (tmp_path / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    yield Tracking(mlflow.MlflowClient(uri), experiment)
    while mlflow.active_run():
        mlflow.end_run()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real tracking server (``mlflow server``, sqlite backend) on a free localhost
    port; its URL."""
    pytest.importorskip("mlflow")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--default-artifact-root", str(tmp_path / "server-artifacts")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server did not start:\n{(tmp_path / 'server.log').read_text()}"
                )
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
