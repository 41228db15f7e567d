"""Runs on another machine: ``launch_env()``/``autocommit exec`` at submission, the plugin
checking the received files on a worker without git or ``.git`` (real MLflow, sqlite)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import autocommit
from autocommit.contract import (
    RUN_COMMIT_VAR,
    RUN_MANIFEST_VAR,
    RUN_REPOSITORY_VAR,
    RUN_TREE_VAR,
    RUN_WORKTREE_VAR,
)
from autocommit.errors import AutocommitError
from tests.support.cli import run_cli as autocommit_cli
from tests.support.daemon import enable
from tests.support.git import git
from tests.support.mlflow import pinned, tree_of
from tests.support.oracle import expected_tree

mlflow = pytest.importorskip("mlflow")

TRAIN = """\
import json, sys
import mlflow
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run() as run:
    pass
print(json.dumps(mlflow.get_run(run.info.run_id).data.tags))
"""


def project(repo: Path) -> None:
    """Committed, modified, untracked, ignored and secret-looking files, and a script."""
    enable(repo)
    (repo / "train.py").write_text(TRAIN)
    (repo / ".gitignore").write_text("*.log\nbuild/\n")
    (repo / "src").mkdir()
    (repo / "src" / "model.py").write_text("layers = 3\n")
    (repo / "run.sh").write_text("#!/bin/sh\npython train.py\n")
    (repo / "run.sh").chmod(0o755)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    (repo / "src" / "model.py").write_text("layers = 4\n")  # modified
    (repo / "src" / "data.py").write_text("rows = 10\n")  # untracked
    (repo / "train.log").write_text("ignored\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.bin").write_bytes(b"\0" * 10)
    (repo / ".env").write_text("TOKEN=secret\n")  # left out as secret-looking


def copy_without_git(repo: Path, to: Path) -> Path:
    shutil.copytree(repo, to, ignore=shutil.ignore_patterns(".git"), symlinks=True)
    return to


def run_there(directory: Path, env: dict[str, str], uri: str) -> dict[str, str]:
    """``python train.py`` in ``directory`` with ``env`` added: the new run's tags."""
    full = {**os.environ, **env}
    proc = subprocess.run([sys.executable, "train.py", uri], cwd=directory, env=full,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    tags: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return tags


def test_a_copy_without_git_is_tagged_with_the_submitted_commit_and_verified(
    repo: Path, tmp_path: Path
) -> None:
    project(repo)
    env = autocommit.launch_env(repo)
    commit = env[RUN_COMMIT_VAR]
    assert commit in pinned(repo)  # pinned in the user's repository before anything runs
    assert env[RUN_TREE_VAR] == tree_of(repo, commit)
    assert env[RUN_REPOSITORY_VAR] == str(repo)  # no remote: the repository's path
    assert env[RUN_WORKTREE_VAR] == str(repo)
    assert RUN_MANIFEST_VAR in env
    listed = git(repo, "ls-tree", "-r", "--name-only", commit).split()
    assert "src/data.py" in listed and ".env" not in listed and "train.log" not in listed

    worker = copy_without_git(repo, tmp_path / "worker")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tags = run_there(worker, env, uri)
    assert tags["autocommit.commit"] == commit
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["autocommit.verified"] == "true", tags.get("autocommit.error")
    assert tags["autocommit.repository"] == str(repo)
    assert tags["autocommit.dirty"] == "true"
    assert ".env (secret-looking name)" in tags["autocommit.skipped"]
    assert "autocommit.error" not in tags
    assert not (worker / ".git").exists()  # nothing was written there

    model = worker / "src" / "model.py"
    model.write_bytes(model.read_bytes().replace(b"4", b"5"))  # one byte
    tags = run_there(worker, env, uri)
    assert tags["autocommit.commit"] == commit
    assert tags["autocommit.verified"] == "false"
    assert "src/model.py (content differs)" in tags["autocommit.error"]


def test_a_worker_names_missing_added_and_mode_changed_paths(repo: Path, tmp_path: Path) -> None:
    project(repo)
    env = autocommit.launch_env(repo)
    worker = copy_without_git(repo, tmp_path / "worker")
    (worker / "src" / "data.py").unlink()  # the launcher left it out
    (worker / "checkpoint.pt").write_bytes(b"weights")  # the job wrote before start_run
    (worker / "run.sh").chmod(0o644)  # an upload that lost the exec bit
    (worker / "debug.log").write_text("ignored by .gitignore: not a difference\n")
    tags = run_there(worker, env, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert tags["autocommit.verified"] == "false"
    error = tags["autocommit.error"]
    assert "src/data.py (missing here)" in error
    assert "checkpoint.pt (not submitted)" in error
    assert "run.sh (mode 100644, submitted 100755)" in error
    assert "debug.log" not in error


def test_a_worker_in_a_directory_of_its_own_checks_the_code_on_its_import_path(
    repo: Path, tmp_path: Path
) -> None:
    """As a Ray Tune trial or Ray Train worker: the process runs in a trial directory,
    the submitted files are on ``sys.path``."""
    project(repo)
    env = autocommit.launch_env(repo)
    worker = copy_without_git(repo, tmp_path / "worker")
    trial = tmp_path / "trial_dir"
    trial.mkdir()
    (trial / "result.json").write_text("{}\n")
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    script = (
        f"import runpy, sys; sys.argv = ['train.py', {uri!r}]; "
        "runpy.run_module('train', run_name='__main__')"
    )
    full = {**os.environ, **env, "PYTHONPATH": str(worker)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=trial, env=full,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    tags = json.loads(proc.stdout.strip().splitlines()[-1])
    assert tags["autocommit.verified"] == "true", tags.get("autocommit.error")


def test_without_a_manifest_a_worker_still_verifies_and_tells_it_cannot_name_paths(
    repo: Path, tmp_path: Path
) -> None:
    from autocommit.engine.submitted_tree import Manifest

    project(repo)
    env = autocommit.launch_env(repo)
    full = Manifest.decode(env[RUN_MANIFEST_VAR])
    env[RUN_MANIFEST_VAR] = full.encode_within(limit=10)  # a tree too large to list
    assert not Manifest.decode(env[RUN_MANIFEST_VAR]).listed
    worker = copy_without_git(repo, tmp_path / "worker")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert run_there(worker, env, uri)["autocommit.verified"] == "true"
    (worker / "train.py").write_text(TRAIN + "# changed\n")
    tags = run_there(worker, env, uri)
    assert tags["autocommit.verified"] == "false"
    assert "too large to list" in tags["autocommit.error"]


def test_a_copied_git_directory_is_checked_not_snapshotted(repo: Path, tmp_path: Path) -> None:
    """A copy with its ``.git`` (enabled in its config) takes the worker's path: no pin or
    snapshot is written in a copy nobody will see."""
    project(repo)
    env = autocommit.launch_env(repo)
    worker = tmp_path / "worker"
    shutil.copytree(repo, worker, symlinks=True)
    refs_before = git(worker, "for-each-ref")
    tags = run_there(worker, env, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert tags["autocommit.commit"] == env[RUN_COMMIT_VAR]
    assert tags["autocommit.verified"] == "true", tags.get("autocommit.error")
    assert git(worker, "for-each-ref") == refs_before


def test_in_the_submitting_working_tree_the_normal_path_applies_and_agrees(
    repo: Path, tmp_path: Path
) -> None:
    project(repo)
    env = autocommit.launch_env(repo)
    tags = run_there(repo, env, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert tags["autocommit.commit"] == env[RUN_COMMIT_VAR]
    assert "autocommit.verified" not in tags  # a snapshot of its own, not a check


def test_launch_env_outside_an_enabled_repository_is_a_one_line_error(repo: Path) -> None:
    with pytest.raises(AutocommitError, match="not in a repository where autocommit is enabled"):
        autocommit.launch_env(repo)
    proc = autocommit_cli(repo, "exec", "--", "true")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "autocommit init" in proc.stderr


def test_exec_runs_the_command_with_the_variables_and_passes_its_status_through(
    repo: Path, tmp_path: Path
) -> None:
    project(repo)
    show = "import json, os; print(json.dumps(dict(os.environ)))"
    proc = autocommit_cli(repo, "exec", "--", sys.executable, "-c", show)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen[RUN_COMMIT_VAR] in pinned(repo)
    assert seen[RUN_TREE_VAR] == tree_of(repo, seen[RUN_COMMIT_VAR])
    assert autocommit_cli(repo, "exec", "--", "sh", "-c", "exit 7").returncode == 7
    missing = autocommit_cli(repo, "exec", "--", "no-such-launcher-here")
    assert missing.returncode == 1 and "cannot run 'no-such-launcher-here'" in missing.stderr
    assert autocommit_cli(repo, "exec").returncode == 1


def test_launch_env_names_the_remote_url_when_there_is_one(repo: Path) -> None:
    project(repo)
    git(repo, "remote", "add", "origin", "https://example.com/team/project.git")
    assert autocommit.launch_env(repo)[RUN_REPOSITORY_VAR] == (
        "https://example.com/team/project.git"
    )


def test_run_variables_are_not_settings(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``AUTOCOMMIT_RUN_*`` on a machine with an enabled repository changes no setting."""
    from autocommit.settings import config

    project(repo)
    before = config.load(repo)
    for name, value in autocommit.launch_env(repo).items():
        monkeypatch.setenv(name, value)
    assert config.load(repo) == before


def test_launch_env_with_a_daemon_running_takes_the_code_as_it_is_now(
    daemon: object, repo: Path, tmp_path: Path
) -> None:
    """The daemon's sync barrier: an edit made just before launch_env() is in the commit."""
    project(repo)
    (repo / ".env").unlink()  # expected_tree() would count it; the snapshot leaves it out
    (repo / "src" / "model.py").write_text("layers = 9\n")
    env = autocommit.launch_env(repo)
    assert env[RUN_COMMIT_VAR] in pinned(repo)
    assert env[RUN_TREE_VAR] == expected_tree(repo)
    assert git(repo, "show", f"{env[RUN_COMMIT_VAR]}:src/model.py") == "layers = 9\n"


def test_launch_env_pushes_the_pin_with_push_on_run(repo: Path, tmp_path: Path) -> None:
    project(repo)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "config", "autocommit.pushonrun", "true")
    env = autocommit.launch_env(repo)
    assert env[RUN_REPOSITORY_VAR] == str(remote)
    deadline = time.monotonic() + 60
    while not (pushed := git(remote, "for-each-ref", "--format=%(refname)")):
        assert time.monotonic() < deadline, "the pin was never pushed"
        time.sleep(0.2)
    assert pushed == f"refs/autocommit/pins/{env[RUN_COMMIT_VAR]}\n"
