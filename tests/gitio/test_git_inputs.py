"""git's inputs outside the repository (global, XDG and included config, the global ignore
and attribute files): a change to one of them reaches the next snapshot, with the daemon
and without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autocommit.daemon import client
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import git_inputs
from autocommit.gitio.repo import Worktree, find_worktree
from tests.support.daemon import enable
from tests.support.git import git
from tests.support.oracle import expected_tree


def _global_config() -> Path:
    return Path(os.environ["GIT_CONFIG_GLOBAL"])


def _files_in(root: Path, commit: str) -> list[str]:
    return git(root, "ls-tree", "-r", "--name-only", commit).split()


def _sync(worktree: Worktree) -> tuple[str, str]:
    snap = client.sync(worktree)
    assert snap is not None, client.status(worktree)
    return snap.commit, snap.tree


def test_a_pattern_added_to_the_global_excludes_file(daemon: Worktree, tmp_path: Path) -> None:
    root = daemon.root
    excludes = tmp_path / "global-ignore"
    excludes.write_text("*.tmp\n")
    git(root, "config", "--global", "core.excludesFile", str(excludes))
    (root / "scratch.log").write_text("noise\n")
    commit, _ = _sync(daemon)
    assert "scratch.log" in _files_in(root, commit)

    with excludes.open("a") as file:
        file.write("*.log\n")
    commit, tree = _sync(daemon)
    assert "scratch.log" not in _files_in(root, commit)
    assert tree == expected_tree(root)


def test_the_default_xdg_ignore_file_appearing(daemon: Worktree) -> None:
    root = daemon.root
    (root / "scratch.log").write_text("noise\n")
    commit, _ = _sync(daemon)
    assert "scratch.log" in _files_in(root, commit)

    xdg = Path(os.environ["HOME"]) / ".config" / "git"
    xdg.mkdir(parents=True)
    (xdg / "ignore").write_text("*.log\n")  # git's default core.excludesFile
    commit, tree = _sync(daemon)
    assert "scratch.log" not in _files_in(root, commit)
    assert tree == expected_tree(root)


def _blob(root: Path, commit: str, path: str) -> bytes:
    return git(root, "cat-file", "blob", f"{commit}:{path}").encode()


def test_global_autocrlf_reaches_the_kept_hasher(daemon: Worktree) -> None:
    root = daemon.root
    (root / "notes.txt").write_bytes(b"one\r\n")
    commit, _ = _sync(daemon)  # the kept hash-object is running now
    assert _blob(root, commit, "notes.txt") == b"one\r\n"

    git(root, "config", "--global", "core.autocrlf", "input")
    (root / "notes.txt").write_bytes(b"one\r\ntwo\r\n")
    commit, tree = _sync(daemon)
    assert _blob(root, commit, "notes.txt") == b"one\ntwo\n"
    assert tree == expected_tree(root)


def test_autocrlf_changed_in_an_included_config_file(daemon: Worktree, tmp_path: Path) -> None:
    root = daemon.root
    included = tmp_path / "eol.gitconfig"
    included.write_text("[core]\n\tautocrlf = false\n")
    with _global_config().open("a") as config:
        config.write(f"[include]\n\tpath = {included}\n")
    (root / "notes.txt").write_bytes(b"one\r\n")
    commit, _ = _sync(daemon)
    assert _blob(root, commit, "notes.txt") == b"one\r\n"

    included.write_text("[core]\n\tautocrlf = input\n")
    (root / "notes.txt").write_bytes(b"one\r\ntwo\r\n")
    commit, tree = _sync(daemon)
    assert _blob(root, commit, "notes.txt") == b"one\ntwo\n"
    assert tree == expected_tree(root)


def test_an_incremental_snapshot_in_process_sees_a_global_attributes_file(
    repo: Path, tmp_path: Path
) -> None:
    worktree = enable(repo)
    attributes = tmp_path / "attributes"
    git(repo, "config", "--global", "core.attributesFile", str(attributes))
    (repo / "data.bin").write_bytes(b"a\r\nb\r\n")
    take_snapshot(worktree)
    attributes.write_text("*.bin text eol=lf\n")
    (repo / "train.py").write_text("lr = 0.2\n")
    snap = take_snapshot(worktree, ["train.py"])  # told only of train.py
    assert snap.reconciled
    assert _blob(repo, snap.commit, "data.bin") == b"a\nb\n"


def test_the_inputs_listed_for_a_worktree(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["HOME"])
    monkeypatch.delenv("GIT_CONFIG_NOSYSTEM")
    monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(tmp_path / "system.gitconfig"))
    with _global_config().open("a") as config:
        config.write(
            "[include]\n\tpath = ~/extra.gitconfig\n"
            '[includeIf "gitdir:/nowhere/"]\n\tpath = conditional.gitconfig\n'
            "[core]\n\texcludesFile = ~/ignore-these\n"
        )
    (home / "extra.gitconfig").write_text("[core]\n\tattributesFile = attrs\n")
    listed = git_inputs.files(find_worktree(repo))
    git_dir = repo / ".git"
    assert set(listed) == {
        tmp_path / "system.gitconfig",
        _global_config(),
        home / "extra.gitconfig",
        _global_config().parent / "conditional.gitconfig",  # relative to its includer
        home / "ignore-these",
        repo / "attrs",  # relative: to the top of the worktree
        git_dir / "config",
        git_dir / "config.worktree",
        git_dir / "info" / "exclude",
        git_dir / "info" / "attributes",
    }
