"""The plugin and ``autocommit runs`` against a real ``mlflow server`` over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitutil import git
from tests.mlflowutil import autocommit, enable, pinned, tree_of

mlflow = pytest.importorskip("mlflow")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real tracking server (sqlite backend) on a free localhost port."""
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


def test_runs_over_http_are_tagged_and_listed(
    repo: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable(repo)
    monkeypatch.chdir(repo)
    mlflow.set_tracking_uri(server)
    try:
        mlflow.set_experiment("over-http")
        commits = []
        for lr in ("0.1", "0.01", "0.001"):
            (repo / "train.py").write_text(f"lr = {lr}\n")
            with mlflow.start_run() as run:
                mlflow.log_param("lr", lr)
            stored = mlflow.MlflowClient(server).get_run(run.info.run_id).data.tags
            commit = stored["autocommit.commit"]
            assert git(repo, "show", f"{commit}:train.py") == f"lr = {lr}\n"
            assert stored["mlflow.source.git.commit"] == commit
            assert stored["autocommit.dirty"] == "true"
            commits.append(commit)
    finally:
        mlflow.set_tracking_uri(None)
    assert len({tree_of(repo, c) for c in commits}) == 3
    assert set(commits) <= pinned(repo)

    listed = autocommit(repo, "runs", "--json", "--tracking-uri", server,
                        "--experiment", "over-http")  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [e["commit"] for e in entries] == commits[::-1]
    assert all(e["available"] and e["dirty"] for e in entries)
