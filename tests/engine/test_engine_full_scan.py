"""Full scans guess the untracked files from the previous one: every guess, right or wrong,
ends in the exact tree, and the user's index is never touched."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from autocommit.engine import scan_cache, snapshot_state
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.git import git, user_state
from tests.support.oracle import assert_exact


def _write(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)


def _make_directory(repo: Path) -> None:
    (repo / "a.py").unlink()
    _write(repo, "a.py/inner.py", "inner = 1\n")


def _two_untracked_files(repo: Path) -> None:
    _write(repo, "a.py", "a\n")
    _write(repo, "b.py", "b\n")


STEPS: list[tuple[str, Callable[[Path], object]]] = [
    ("two untracked files", _two_untracked_files),
    ("one more, guessed ones unchanged", lambda r: _write(r, "c/c.py", "c\n")),
    ("a guessed file edited", lambda r: _write(r, "a.py", "a2\n")),
    ("a guessed file ignored now", lambda r: _write(r, ".gitignore", "b.py\n")),
    ("a guessed file added to the user's index", lambda r: git(r, "add", "c/c.py")),
    ("a guessed file deleted", lambda r: (r / "a.py").unlink()),
    ("the deleted file is back", lambda r: _write(r, "a.py", "a3\n")),
    ("a guessed file turned into a directory", _make_directory),
]


@pytest.mark.parametrize("scan_cache_kept", [False, True])
def test_every_guess_ends_in_the_exact_tree(
    repo: Path, git_calls: list[list[str]], scan_cache_kept: bool
) -> None:
    """Without the scan cache, each full scan starts from your index and guesses; with
    it, each one starts from the last one's private index and changed directories."""
    worktree = find_worktree(repo)
    take_snapshot(worktree)
    for step, change in STEPS:
        change(repo)
        before = user_state(repo)
        if not scan_cache_kept:
            scan_cache.forget(worktree.state_dir)
        git_calls.clear()
        snap = take_snapshot(worktree)  # no paths: a full scan
        assert user_state(repo) == before, step
        assert_exact(repo, snap.tree)
        state = snapshot_state.load(worktree)
        assert state is not None and state.tree == snap.tree, step
        listed = set(git(repo, "ls-files", "-z", "--others", "--exclude-standard").split("\0"))
        if not scan_cache_kept:  # (a scan without a walk keeps the last walk's guesses)
            assert set(state.untracked) == listed - {""}, step
        adds = [c for c in git_calls if c[:1] == ["update-index"] and "--add" in c]
        if step == "one more, guessed ones unchanged" and not scan_cache_kept:
            assert len(adds) == 2, git_calls  # only the new file was added late
        if step == "one more, guessed ones unchanged" and scan_cache_kept:
            assert not adds, git_calls  # the new file found without a walk, the tree edited
            assert ["ls-files", "-z", "--others", "--exclude-standard"] not in git_calls


def test_without_hard_links_the_private_index_is_a_copy(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError("no hard links here")

    monkeypatch.setattr(os, "link", no_links)
    worktree = find_worktree(repo)
    _write(repo, "new.py", "new\n")
    snap = take_snapshot(worktree)
    assert_exact(repo, snap.tree)
    private, seed = worktree.state_dir / "index", worktree.state_dir / "index.seed"
    assert private.stat().st_ino != seed.stat().st_ino
    shutil.rmtree(worktree.state_dir)  # and with no state at all: scanned from scratch
    snap = take_snapshot(worktree)
    assert_exact(repo, snap.tree)


def test_a_wrong_guess_in_a_repository_without_commits(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")  # no commits, no index: the seed is empty
    _write(root, "a.py", "a\n")
    _write(root, "b.py", "b\n")
    worktree = find_worktree(root)
    assert_exact(root, take_snapshot(worktree).tree)
    _write(root, ".gitignore", "b.py\n")  # b.py was guessed; now it is ignored
    before = user_state(root)
    snap = take_snapshot(worktree)
    assert user_state(root) == before
    assert_exact(root, snap.tree)
    assert "b.py" not in git(root, "ls-tree", "-r", "--name-only", snap.tree)


def test_a_burst_of_new_files_past_the_rescan_s_bound_is_walked_exactly(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new directory of more files than a scan without a walk hashes (a generator's
    burst) is handed to the walk before each file is looked at: exact all the same."""
    from autocommit.engine import incremental

    monkeypatch.setattr(incremental, "MAX_FILES", 3)
    worktree = find_worktree(repo)
    take_snapshot(worktree)
    for number in range(5):
        _write(repo, f"burst/d{number % 2}/f{number}.txt", f"{number}\n")
    before = user_state(repo)
    snap = take_snapshot(worktree)  # no paths: a full scan, the scan cache kept
    assert user_state(repo) == before
    assert_exact(repo, snap.tree)
    assert snap.summary.startswith("5 files: add burst/d0/f0.txt")
