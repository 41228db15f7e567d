"""Repositories that are not the common case: SHA-256 object ids, GIT_DIR/GIT_WORK_TREE
in the environment, bare repositories, ref stores other than git's files. Each works
exactly or is refused with one line; never a wrong snapshot."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from autocommit.daemon import client
from autocommit.errors import AutocommitError
from autocommit.gitio.repo import find_worktree
from autocommit.tracking.run_tags import worktree_at
from tests.support.cli import run_cli
from tests.support.daemon import rev, stop_for_sure
from tests.support.git import git
from tests.support.oracle import expected_tree

mlflow = pytest.importorskip("mlflow")


def _sha256_repo(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q", "--object-format=sha256")
    (root / "train.py").write_text("lr = 0.1\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "data").mkdir()
    (root / "data" / "notes.txt").write_text("notes\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    git(root, "config", "autocommit.enabled", "true")
    return root


def _edit(root: Path, step: int) -> None:
    (root / "train.py").write_text(f"lr = 0.{step}\n")
    (root / f"new{step}.py").write_text(f"step = {step}\n")
    (root / "data" / "notes.txt").unlink(missing_ok=True)
    (root / "link").unlink(missing_ok=True)
    (root / "link").symlink_to(f"new{step}.py")
    (root / "ignored.log").write_text("never snapshotted\n")


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert done.stderr.startswith("autocommit: error: ") and done.stderr.count("\n") == 1
    assert done.stdout == ""
    return done.stderr


def test_sha256_repository_full_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _sha256_repo(tmp_path / "repo")
    assert git(root, "rev-parse", "--show-object-format").strip() == "sha256"
    shadow = "autocommit/heads/main"

    _edit(root, 1)  # the CLI, a full scan
    done = run_cli(root, "snapshot")
    assert done.returncode == 0, done.stderr
    tip = rev(root, shadow)
    assert tip is not None and len(tip) == 64
    assert rev(root, f"{tip}^{{tree}}") == expected_tree(root)

    worktree = find_worktree(root)  # the daemon: full scan, then incremental snapshots
    client.start(worktree)
    try:
        for step in (2, 3):
            _edit(root, step)
            snap = client.sync(worktree)
            assert snap is not None, client.status(worktree)
            assert len(snap.commit) == 64 and snap.tree == expected_tree(root)
            assert snap.reconciled is False or step == 2

        monkeypatch.chdir(root)  # an MLflow run, its snapshot made by the daemon
        mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
        mlflow.set_experiment("sha256")  # not the active experiment of an earlier test's store
        _edit(root, 4)
        want = expected_tree(root)
        with mlflow.start_run() as run:
            tags = run.data.tags
    finally:
        stop_for_sure(worktree)
    assert "autocommit.error" not in tags, tags["autocommit.error"]
    commit = tags["autocommit.commit"]
    assert len(commit) == 64 and rev(root, f"{commit}^{{tree}}") == want
    assert rev(root, f"{commit}^") == rev(root, "HEAD")

    _edit(root, 5)  # an MLflow run without the daemon: the snapshot made in-process
    with mlflow.start_run() as run:
        tags = run.data.tags
    assert "autocommit.error" not in tags, tags["autocommit.error"]
    assert rev(root, tags["autocommit.commit"] + "^{tree}") == expected_tree(root)
    git(root, "fsck", "--no-progress")


def test_git_dir_and_work_tree_from_the_environment(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"  # not in any repository
    elsewhere.mkdir()
    (repo / "train.py").write_text("lr = 0.4\n")
    env = {"GIT_DIR": str(repo / ".git"), "GIT_WORK_TREE": str(repo)}
    done = run_cli(elsewhere, "snapshot", env=env)
    assert done.returncode == 0, done.stderr
    assert rev(repo, "autocommit/heads/main^{tree}") == expected_tree(repo)


def test_git_dir_wins_over_the_current_directorys_repository(repo: Path, tmp_path: Path) -> None:
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    git(decoy, "init", "-q")
    git(decoy, "config", "autocommit.enabled", "true")
    (decoy / "decoy.py").write_text("x = 1\n")
    (repo / "train.py").write_text("lr = 0.5\n")
    env = {"GIT_DIR": str(repo / ".git"), "GIT_WORK_TREE": str(repo)}
    done = run_cli(decoy, "snapshot", env=env)
    assert done.returncode == 0, done.stderr
    assert rev(repo, "autocommit/heads/main^{tree}") == expected_tree(repo)
    assert git(decoy, "for-each-ref", "refs/autocommit/") == ""  # the decoy is left alone


def test_a_work_tree_apart_from_its_git_dir_is_refused(tmp_path: Path) -> None:
    store, tree = tmp_path / "store.git", tmp_path / "tree"
    tree.mkdir()
    git(tmp_path, "init", "-q", "--bare", str(store))
    (tree / "dotfile").write_text("set -o vi\n")
    env = {"GIT_DIR": str(store), "GIT_WORK_TREE": str(tree)}
    for args in (["add", "-A"], ["commit", "-qm", "dotfiles"]):
        subprocess.run(["git", *args], cwd=tree, env={**os.environ, **env}, check=True)
    error = _one_line_error(run_cli(tree, "snapshot", env=env))
    assert "which git does not find from that tree" in error
    assert git(store, "for-each-ref", "refs/autocommit/") == ""


def test_git_dir_naming_a_bare_repository(tmp_path: Path) -> None:
    store = tmp_path / "store.git"
    git(tmp_path, "init", "-q", "--bare", str(store))
    error = _one_line_error(run_cli(tmp_path, "snapshot", env={"GIT_DIR": str(store)}))
    assert "is a bare repository" in error and "`git worktree add`" in error


def _git_knows_reftable(tmp_path: Path) -> bool:
    probe = subprocess.run(["git", "init", "-q", "--ref-format=reftable", str(tmp_path / "p")],
                           capture_output=True)  # fmt: skip
    return probe.returncode == 0


def test_reftable_repository_is_refused(tmp_path: Path) -> None:
    if not _git_knows_reftable(tmp_path):
        version = git(tmp_path, "version").strip()
        pytest.skip(f"{version} cannot create reftable repositories (git >= 2.45 can)")
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "--ref-format=reftable", str(root))
    git(root, "commit", "-q", "--allow-empty", "-m", "initial")
    error = _one_line_error(run_cli(root, "snapshot"))
    assert "reftable" in error
    assert "refs/autocommit" not in git(root, "for-each-ref")


def test_an_unknown_ref_store_is_refused_with_one_line(tmp_path: Path, repo: Path) -> None:
    git(repo, "config", "core.repositoryformatversion", "1")
    git(repo, "config", "extensions.refStorage", "reftable")
    error = _one_line_error(run_cli(repo, "snapshot"))
    assert "refstorage" in error.lower()
    with pytest.raises(AutocommitError, match="reftable"):
        worktree_at(repo)  # how the MLflow plugin finds the repository, without git
