"""``autocommit runs``: MLflow runs with their snapshot and whether the code is here."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from autocommit import cli
from tests.support.daemon import enable
from tests.support.git import git

mlflow = pytest.importorskip("mlflow")


def runs_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert cli.main(["runs", "--json", *args]) == 0
    found: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return found


def test_runs_lists_snapshots_dirty_flag_changes_and_local_availability(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    artifacts = (tmp_path / "artifacts").as_uri()
    first = mlflow.create_experiment("first", artifact_location=artifacts)
    second = mlflow.create_experiment("second", artifact_location=artifacts)

    other = tmp_path / "other"  # a run made from another repository: its code is not here
    other.mkdir()
    git(other, "init", "-q")
    (other / "x.py").write_text("x = 1\n")
    git(other, "add", "-A")
    git(other, "commit", "-qm", "other")
    enable(other)
    monkeypatch.chdir(other)
    with mlflow.start_run(experiment_id=second, run_name="elsewhere"):
        pass

    enable(repo)
    monkeypatch.chdir(repo)
    with mlflow.start_run(experiment_id=first, run_name="clean") as clean:
        pass
    (repo / "train.py").write_text("lr = 0.02\n")
    with mlflow.start_run(experiment_id=first, run_name="dirty") as dirty:
        pass
    git(repo, "config", "autocommit.enabled", "false")
    with mlflow.start_run(experiment_id=first, run_name="untagged"):
        pass

    every = runs_json(capsys, "--tracking-uri", uri)
    by_name = {r["run_name"]: r for r in every}
    assert set(by_name) == {"elsewhere", "clean", "dirty", "untagged"}
    assert by_name["clean"]["commit"] == clean.data.tags["autocommit.commit"]
    assert by_name["clean"]["dirty"] is False and by_name["clean"]["available"] is True
    assert by_name["dirty"]["commit"] == dirty.data.tags["autocommit.commit"]
    assert by_name["dirty"]["dirty"] is True and by_name["dirty"]["available"] is True
    assert by_name["dirty"]["changes"] == (
        "1 file changed, 1 insertion(+), 2 deletions(-): train.py +1 -2"
    )
    assert by_name["elsewhere"]["available"] is False
    assert by_name["untagged"]["commit"] is None and by_name["untagged"]["available"] is None
    assert every[0]["run_name"] == "untagged", "newest first"

    only_first = runs_json(capsys, "--tracking-uri", uri, "--experiment", "first")
    assert {r["run_name"] for r in only_first} == {"clean", "dirty", "untagged"}
    by_id = runs_json(capsys, "--tracking-uri", uri, "--experiment", second, "-n", "5")
    assert [r["run_name"] for r in by_id] == ["elsewhere"]

    assert cli.main(["runs", "--tracking-uri", uri]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["run", "started", "name", "snapshot", "dirty", "code", "here",
                                "changes", "vs", "HEAD"]  # fmt: skip
    dirty_row = next(line for line in table if " dirty " in line and "1 file changed" in line)
    assert dirty.data.tags["autocommit.commit"][:12] in dirty_row
    assert "(no autocommit tags)" in next(line for line in table if "untagged" in line)


def test_unknown_experiment_or_store_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"sqlite:///{tmp_path / 'typo.db'}"
    assert cli.main(["runs", "--tracking-uri", missing]) == 1
    assert capsys.readouterr().err == (
        f"autocommit: error: no MLflow database at {tmp_path / 'typo.db'}; "
        "check --tracking-uri or MLFLOW_TRACKING_URI\n"
    )
    assert not (tmp_path / "typo.db").exists()

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.MlflowClient(uri).search_experiments()  # creates the store
    capsys.readouterr()
    assert cli.main(["runs", "--tracking-uri", uri, "--experiment", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("autocommit: error: no MLflow experiment named or numbered 'nope'")
    assert err.count("\n") == 1


def test_unreachable_server_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cli.main(["runs", "--tracking-uri", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"autocommit: error: cannot ask MLflow at http://127.0.0.1:{port}")
    assert err.count("\n") == 1
