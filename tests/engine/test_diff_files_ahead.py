"""``git diff-files`` started ahead of a full scan (a new ``autocommit snapshot`` process
starts it before importing the engine): used when the private index is still the file it
read, ended unread when another process's snapshot replaced it meanwhile, and the
snapshot exact either way."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from autocommit.engine.diff_files import started_ahead
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import git as autocommit_git
from autocommit.gitio.repo import Worktree, find_worktree
from tests.support.cli import run_cli
from tests.support.git import git
from tests.support.oracle import assert_exact


@pytest.fixture
def scanned(repo: Path) -> Worktree:
    """``repo`` after a full scan that walked, so the next one need not."""
    (repo / "src").mkdir()
    (repo / "src" / "model.py").write_text("layers = 2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "model")
    worktree = find_worktree(repo)
    take_snapshot(worktree)
    return worktree


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The ``git diff-files`` processes started (each still runs for real)."""
    seen: list[list[str]] = []
    real_popen = autocommit_git.popen

    def recording_popen(args: Any, *rest: Any, **options: Any) -> Any:
        if args[0] == "diff-files":
            seen.append(list(args))
        return real_popen(args, *rest, **options)

    monkeypatch.setattr(autocommit_git, "popen", recording_popen)
    return seen


def test_the_scan_uses_the_one_started_ahead(scanned: Worktree, started: list[list[str]]) -> None:
    (scanned.root / "src" / "model.py").write_text("layers = 3\n")
    with started_ahead(scanned):
        snap = take_snapshot(scanned)
    assert len(started) == 1, "the scan started none of its own"
    assert snap.reconciled and snap.dirty
    assert_exact(scanned.root, snap.tree)


def test_one_started_before_another_process_replaced_the_private_index_is_not_used(
    scanned: Worktree, started: list[list[str]]
) -> None:
    root = scanned.root
    with started_ahead(scanned):
        time.sleep(0.5)  # it has read the private index and stat-ed every file by now
        # Another process's snapshot walks (your index changed) and writes a new
        # private index; then a file changes, which the one started ahead never saw.
        (root / "notes.md").write_text("new\n")
        git(root, "add", "notes.md")
        assert run_cli(root, "snapshot").returncode == 0
        (root / "src" / "model.py").write_text("layers = 4\n")
        snap = take_snapshot(scanned)
    assert len(started) == 2, "the scan started its own"
    assert snap.reconciled
    assert_exact(root, snap.tree)
    assert "layers = 4" in git(root, "show", f"{snap.commit}:src/model.py")


def test_none_is_started_without_what_a_scan_without_a_walk_needs(
    repo: Path, started: list[list[str]]
) -> None:
    worktree = find_worktree(repo)
    with started_ahead(worktree):  # no snapshot yet: the first one walks
        snap = take_snapshot(worktree)
    assert started == []
    assert_exact(repo, snap.tree)


def test_one_left_unused_is_ended(scanned: Worktree) -> None:
    with started_ahead(scanned):
        pass
    children = subprocess.run(["ps", "--ppid", str(os.getpid()), "-o", "args="],
                              capture_output=True, text=True).stdout  # fmt: skip
    assert "diff-files" not in children
