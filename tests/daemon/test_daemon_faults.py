"""The daemon after a fault: it retries at once when asked, and it does not outlive its
working tree."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from autocommit.daemon import client
from autocommit.daemon.control import DaemonFiles
from autocommit.gitio.repo import Worktree, find_worktree
from tests.support.cli import run_cli
from tests.support.daemon import enable, stop_for_sure, wait_for
from tests.support.git import git, new_repository
from tests.support.oracle import expected_tree
from tests.support.readme import says


def _block_the_shadow_branch(root: Path) -> None:
    """A real fault git cannot get past: a ref in the way of the shadow branch."""
    git(root, "update-ref", "-d", "refs/autocommit/heads/main")
    git(root, "update-ref", "refs/autocommit/heads/main/blocker", "HEAD")


def test_a_sync_request_retries_at_once_after_the_fault_is_gone(daemon: Worktree) -> None:
    root = daemon.root
    (root / "train.py").write_text("lr = 0.6\n")
    assert client.sync(daemon) is not None
    _block_the_shadow_branch(root)
    (root / "train.py").write_text("lr = 0.7\n")
    # Let the daemon fail again and again by itself, until it backs off for 8 s.
    wait_for(lambda: client.status(daemon)["failures"] >= 4, timeout=30,
             what="the daemon to back off")  # fmt: skip

    git(root, "update-ref", "-d", "refs/autocommit/heads/main/blocker")  # the fault is gone
    started = time.monotonic()
    snap = client.sync(daemon, timeout=5.0)
    took = time.monotonic() - started
    assert snap is not None, client.status(daemon)
    assert took < 2.0, f"the sync waited {took:.1f}s: the error backoff"
    assert snap.tree == expected_tree(root)
    assert client.status(daemon)["failures"] == 0


def _daemon_process(worktree: Worktree) -> psutil.Process:
    pid = DaemonFiles.of(worktree).read_pid()
    assert pid is not None
    return psutil.Process(pid)


def _exits(process: psutil.Process, within: float) -> float:
    """How long ``process`` took to exit; fails when it is still alive after ``within``."""
    started = time.monotonic()
    try:
        process.wait(timeout=within)
    except psutil.TimeoutExpired:
        process.kill()
        raise AssertionError(f"the daemon was still alive {within:.0f}s later") from None
    return time.monotonic() - started


def test_the_daemon_exits_when_its_working_tree_is_removed(daemon: Worktree) -> None:
    process = _daemon_process(daemon)
    shutil.rmtree(daemon.root)
    took = _exits(process, within=5.0)
    assert took < 2.0, f"the daemon took {took:.1f}s to notice"


def test_the_daemon_exits_when_its_git_dir_is_removed(daemon: Worktree) -> None:
    process = _daemon_process(daemon)
    shutil.rmtree(daemon.git_dir)
    _exits(process, within=5.0)
    assert daemon.root.is_dir()  # the working tree itself is the user's: left alone


def test_a_repository_recreated_at_the_same_path_gets_its_own_daemon(
    daemon: Worktree,
) -> None:
    root = daemon.root
    old = _daemon_process(daemon)
    shutil.rmtree(root)
    new_repository(root, {"train.py": "lr = 0.9\n"}, "again")
    worktree = enable(root)
    try:
        new_pid = client.start(worktree)
        assert new_pid != old.pid
        _exits(old, within=5.0)
        # The old daemon, exiting, left the new one's socket and pid file alone.
        assert client.status(worktree)["pid"] == new_pid
        assert DaemonFiles.of(worktree).read_pid() == new_pid
        (root / "train.py").write_text("lr = 1.0\n")
        snap = client.sync(worktree)
        assert snap is not None and snap.tree == expected_tree(root)
        new = psutil.Process(new_pid)  # taken while it runs: once reaped, its pid is no process
        assert client.stop(worktree)
        _exits(new, within=5.0)
    finally:
        stop_for_sure(find_worktree(root))


@pytest.mark.parametrize("kind", ["main", "linked"])
def test_readme_deleting_the_working_tree_ends_its_daemon(repo: Path, kind: str) -> None:
    says("or delete the working tree, the daemon exits by itself")
    root = repo
    if kind == "linked":
        root = repo.parent / "linked"
        git(repo, "worktree", "add", "-q", str(root))
    assert run_cli(root, "init").returncode == 0
    worktree = find_worktree(root)
    process = _daemon_process(worktree)
    # As a user does it: `rm -rf`, from a shell whose directory is inside the tree.
    shell = subprocess.Popen(["sleep", "60"], cwd=root)
    try:
        subprocess.run(["rm", "-rf", "--", str(root)], check=True)
        took = _exits(process, within=10.0)
    finally:
        shell.kill()
        shell.wait()
    assert took < 3.0, f"the daemon took {took:.1f}s to notice"
