"""Harmless: snapshots never touch the user's index, HEAD, refs or files, never take
``.git/index.lock``, never run a user hook, and ignore git variables set by a hook."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.git import git, tree_listing, user_state
from tests.support.oracle import assert_exact, expected_listing

HOOKS = ("reference-transaction", "post-index-change", "pre-commit", "post-commit",
         "post-checkout", "pre-auto-gc")  # fmt: skip


class _IndexLockSeen(FileSystemEventHandler):
    def __init__(self) -> None:
        self.seen = threading.Event()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if os.path.basename(os.fsdecode(event.src_path)) == "index.lock":
            self.seen.set()


def _snapshot_loop(repo: Path, rounds: int) -> None:
    worktree = find_worktree(repo)
    for i in range(rounds):
        (repo / "train.py").write_text(f"lr = {i}\n")
        (repo / f"new{i % 3}.py").write_text(f"n = {i}\n")
        paths = None if i % 3 == 0 else ["train.py", f"new{i % 3}.py"]
        assert_exact(repo, take_snapshot(worktree, paths).tree)


def test_index_lock_is_never_taken(repo: Path) -> None:
    handler = _IndexLockSeen()
    observer = Observer()
    observer.schedule(handler, str(repo / ".git"), recursive=False)
    observer.start()
    try:
        index_before = (repo / ".git" / "index").stat().st_mtime_ns
        _snapshot_loop(repo, 12)
        time.sleep(0.3)  # let the observer deliver anything pending
        assert not handler.seen.is_set()
        assert (repo / ".git" / "index").stat().st_mtime_ns == index_before
        git(repo, "add", "train.py")  # the watch works: a user's git add takes the lock
        assert handler.seen.wait(5)
    finally:
        observer.stop()
        observer.join()


def _install_hooks(hooks_dir: Path, marker: Path) -> None:
    hooks_dir.mkdir(parents=True, exist_ok=True)
    for name in HOOKS:
        hook = hooks_dir / name
        hook.write_text(f"#!/bin/sh\necho {name} >> '{marker}'\ncat >/dev/null 2>&1 || true\n")
        hook.chmod(0o755)


@pytest.mark.parametrize("hooks_path", [None, ".githooks"])
def test_user_hooks_never_run(repo: Path, tmp_path: Path, hooks_path: str | None) -> None:
    marker = tmp_path / "hooks-ran.txt"
    if hooks_path is None:
        _install_hooks(repo / ".git" / "hooks", marker)
    else:
        _install_hooks(repo / hooks_path, marker)
        git(repo, "config", "core.hooksPath", hooks_path)
    before = user_state(repo)
    _snapshot_loop(repo, 4)
    assert not marker.exists()
    after = user_state(repo)
    assert after.git_state == before.git_state
    git(repo, "update-ref", "refs/heads/probe", "HEAD")  # the hooks work when git runs them
    assert "reference-transaction" in marker.read_text()


def test_variables_exported_by_a_hook_are_ignored(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    git(decoy, "init", "-q")
    (repo / "train.py").write_text("lr = 0.7\n")
    decoy_before, before = user_state(decoy), user_state(repo)
    monkeypatch.setenv("GIT_DIR", str(decoy / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(decoy))
    monkeypatch.setenv("GIT_INDEX_FILE", str(repo / ".git" / "index"))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(decoy / ".git" / "objects"))
    monkeypatch.setenv("GIT_NAMESPACE", "elsewhere")
    worktree = find_worktree(repo)
    assert worktree.root == repo
    full = take_snapshot(worktree)
    (repo / "train.py").write_text("lr = 0.8\n")
    incremental = take_snapshot(worktree, ["train.py"])
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                 "GIT_NAMESPACE"):  # fmt: skip
        monkeypatch.delenv(name)
    assert user_state(decoy) == decoy_before
    assert user_state(repo).index_bytes == before.index_bytes
    assert git(repo, "rev-parse", "refs/autocommit/heads/main").strip() == incremental.commit
    assert git(repo, "show", f"{full.commit}:train.py") == "lr = 0.7\n"
    assert_exact(repo, incremental.tree)


def test_snapshot_from_inside_git_commit_a(repo: Path) -> None:
    """A pre-commit hook snapshots while `git commit -a` holds index.lock and exports
    GIT_INDEX_FILE: the snapshot is the working tree and the commit succeeds unchanged."""
    hook = repo / ".git" / "hooks" / "pre-commit"
    out = repo.parent / "hook-snapshot.txt"
    hook.write_text(
        f"#!/bin/sh\nenv | grep '^GIT_INDEX_FILE=' >> '{out}'\n"
        f"'{sys.executable}' -m autocommit snapshot >> '{out}' 2>&1\n"
    )
    hook.chmod(0o755)
    (repo / "train.py").write_text("lr = 0.05\n")
    (repo / "untracked.py").write_text("not part of the commit\n")
    expected = expected_listing(repo)
    git(repo, "commit", "-q", "-a", "-m", "user commit")
    lines = out.read_text().splitlines()
    assert lines[0].startswith("GIT_INDEX_FILE=")  # git did export it to the hook
    snapshot = lines[-1].strip()
    assert tree_listing(repo, snapshot) == expected
    committed = tree_listing(repo, "HEAD")
    assert "untracked.py" not in committed
    assert git(repo, "show", "HEAD:train.py") == "lr = 0.05\n"
    assert git(repo, "status", "--porcelain") == "?? untracked.py\n"
