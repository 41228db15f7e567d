"""The plugin and ``autocommit runs`` against a real ``mlflow server`` over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.daemon import enable
from tests.support.git import git
from tests.support.mlflow import pinned, tree_of

mlflow = pytest.importorskip("mlflow")


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

    listed = run_cli(repo, "runs", "--json", "--tracking-uri", server,
                        "--experiment", "over-http")  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [e["commit"] for e in entries] == commits[::-1]
    assert all(e["available"] and e["dirty"] for e in entries)
