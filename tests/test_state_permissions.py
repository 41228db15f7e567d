"""autocommit's state directory (``.git/autocommit/``) is mode 0700 and every file in it
0600, whichever way it was created and whatever the umask: it holds copies of the
user's index, daemon logs naming files, the control socket."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest

from autocommit.daemon import client
from autocommit.gitio.repo import find_worktree
from autocommit.hooks import run as hook_entry
from tests.support.cli import run_cli
from tests.support.daemon import enable, stop_for_sure
from tests.support.git import assert_private, git
from tests.support.mlflow import Tracking, start_run
from tests.support.readme import example


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The umask of the test and of every process it starts (000: the most open)."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_init_without_daemon(repo: Path, umask: int) -> None:
    (repo / "notes.md").write_text("untracked\n")
    done = run_cli(repo, "init", "--no-daemon", "--no-hooks")
    assert done.returncode == 0, done.stderr
    assert (repo / ".git" / "autocommit" / "state.json").is_file()
    assert_private(repo / ".git" / "autocommit")


def test_init_with_daemon_and_hooks(repo: Path, umask: int) -> None:
    worktree = find_worktree(repo)
    try:
        done = run_cli(repo, "init")
        assert done.returncode == 0, done.stderr
        (repo / "notes.md").write_text("untracked\n")
        assert client.sync(worktree, timeout=30) is not None
        state = repo / ".git" / "autocommit"
        for name in ("daemon.sock", "daemon.log", "daemon.pid", "daemon.lock", "cookies"):
            assert (state / name).exists(), name
        assert_private(state)
    finally:
        stop_for_sure(worktree)
    assert_private(repo / ".git" / "autocommit")


def test_a_hook(repo: Path, umask: int) -> None:
    done = run_cli(repo, "init", "--no-daemon")
    assert done.returncode == 0, done.stderr
    state = repo / ".git" / "autocommit"
    (repo / "train.py").write_text("lr = 0.3\n")
    git(repo, "commit", "-q", "-am", "faster")  # the post-commit hook snapshots
    assert hook_entry.wait_for_hooks(find_worktree(repo), timeout=60)
    assert (state / "hooks.log").is_file()
    assert_private(state)


def test_a_run_without_daemon_in_a_repository_never_set_up(repo: Path, umask: int) -> None:
    """The first state ever made by the tags of an MLflow run (no daemon, no init)."""
    enable(repo)
    (repo / "notes.md").write_text("untracked\n")
    code = "import autocommit; print(autocommit.mlflow_tags()['autocommit.commit'])"
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    state = repo / ".git" / "autocommit"
    for name in ("index", "index.seed", "state.json", "settings.json", "snapshot.lock"):
        assert (state / name).is_file(), name
    assert_private(state)


def test_split_index_files_git_writes_are_narrowed(repo: Path, umask: int) -> None:
    git(repo, "config", "core.splitIndex", "true")
    git(repo, "update-index", "--split-index")
    enable(repo)
    (repo / "notes.md").write_text("untracked\n")
    done = run_cli(repo, "snapshot")
    assert done.returncode == 0, done.stderr
    assert_private(repo / ".git" / "autocommit")


def test_state_left_open_by_an_older_version_is_narrowed(repo: Path) -> None:
    enable(repo)
    state = repo / ".git" / "autocommit"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    (state / "daemon.log").write_text("old log\n")
    os.chmod(state / "daemon.log", 0o644)
    done = run_cli(repo, "snapshot")
    assert done.returncode == 0, done.stderr
    assert_private(state)


def test_the_readme_lists_every_file_a_session_leaves(repo: Path, tracking: Tracking) -> None:
    """init (daemon and hooks), an edit, a commit (its hooks), an MLflow run: every name in
    the state directory is one the README lists, and the ones such a session makes are."""
    listed = example("state-files")
    assert "index" in listed and "push-claims" in listed
    worktree = find_worktree(repo)
    state = repo / ".git" / "autocommit"
    try:
        assert run_cli(repo, "init").returncode == 0
        (repo / "train.py").write_text("lr = 0.3\n")
        git(repo, "commit", "-q", "-am", "faster")  # the hooks fire
        assert hook_entry.wait_for_hooks(worktree, timeout=60)
        (repo / "notes.md").write_text("an idea\n")
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(repo)
            start_run()
        found = sorted(entry.name for entry in state.iterdir())
    finally:
        stop_for_sure(worktree)
    unlisted = [name for name in found if not any(fnmatch(name, p) for p in listed)]
    assert not unlisted, f"the README does not list {unlisted}"
    made = {"index", "index.seed", "state.json", "snapshot.lock", "settings.json",
            "daemon.lock", "daemon.pid", "daemon.sock", "daemon.log", "daemon.out",
            "cookies", "hook.lock", "hooks.log"}  # fmt: skip
    assert made <= set(found), made - set(found)
