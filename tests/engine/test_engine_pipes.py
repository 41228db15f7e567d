"""git processes kept from one snapshot to the next (what the watch daemon does)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from autocommit.engine.kept_processes import GitPipes
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import objects
from autocommit.gitio.repo import find_worktree
from tests.support.git import calls_to, git
from tests.support.oracle import assert_exact


@pytest.fixture
def pipes(repo: Path) -> Iterator[GitPipes]:
    kept = GitPipes(find_worktree(repo), kept=True)
    yield kept
    kept.close()


def _kept_git_processes() -> list[psutil.Process]:
    return [p for p in psutil.Process().children() if "git" in p.name()]


def test_kept_processes_follow_what_others_write(repo: Path, pipes: GitPipes) -> None:
    worktree = find_worktree(repo)
    take_snapshot(worktree, pipes=pipes)
    steps = ("edit", "other snapshot", "commit", "gc", "new file", "filter", "edit")
    for number, step in enumerate(steps):
        (repo / "train.py").write_text(f"lr = {number}\n")
        changed = ["train.py"]
        if step == "other snapshot":  # moves the shadow ref behind the kept reader's back
            subprocess.run([sys.executable, "-m", "autocommit", "snapshot"], cwd=repo,
                           check=True, capture_output=True)  # fmt: skip
        elif step == "commit":
            git(repo, "commit", "-qam", "moved on")
        elif step == "gc":  # the objects the kept processes saw loose are packed now
            git(repo, "gc", "-q", "--prune=now")
        elif step == "new file":
            (repo / "data").mkdir()
            (repo / "data" / "new.txt").write_text("new\n")
            changed.append("data")
        elif step == "filter":  # attributes change: the hasher must apply the new filter
            (repo / ".gitattributes").write_text("*.txt filter=upper\n")
            git(repo, "config", "filter.upper.clean", "tr a-z A-Z")
            (repo / "data" / "new.txt").write_text("lower\n")
            changed += [".gitattributes", "data/new.txt"]
        snap = take_snapshot(worktree, changed, pipes=pipes)
        assert_exact(repo, snap.tree)
    shown = git(repo, "cat-file", "blob", f"{snap.tree}:data/new.txt")
    assert shown == "LOWER\n"
    (repo / "data" / "new.txt").write_text("again\n")
    incremental = take_snapshot(worktree, ["data/new.txt"], pipes=pipes)
    assert not incremental.reconciled
    assert git(repo, "cat-file", "blob", f"{incremental.tree}:data/new.txt") == "AGAIN\n"


def test_kept_processes_never_hold_the_snapshot_lock(repo: Path, pipes: GitPipes) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.7\n")
    take_snapshot(worktree, pipes=pipes)
    (repo / "train.py").write_text("lr = 0.8\n")
    take_snapshot(worktree, ["train.py"], pipes=pipes)
    # Reader, blob hasher, ref updater: all still running (trees and commits are
    # written from Python).
    assert len(_kept_git_processes()) == 3
    (repo / "train.py").write_text("lr = 0.85\n")
    other = subprocess.run([sys.executable, "-m", "autocommit", "snapshot"], cwd=repo,
                           capture_output=True, text=True, timeout=20)  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert_exact(repo, git(repo, "rev-parse", "autocommit/heads/main^{tree}").strip())


def test_kept_processes_that_died_are_started_again(repo: Path, pipes: GitPipes) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.9\n")
    take_snapshot(worktree, pipes=pipes)
    (repo / "train.py").write_text("lr = 1.0\n")
    take_snapshot(worktree, ["train.py"], pipes=pipes)
    killed = _kept_git_processes()
    assert killed
    for process in killed:
        process.send_signal(signal.SIGKILL)
    psutil.wait_procs(killed, timeout=10)
    (repo / "train.py").write_text("lr = 1.1\n")
    snap = take_snapshot(worktree, ["train.py"], pipes=pipes)
    assert not snap.reconciled
    assert_exact(repo, snap.tree)


def test_a_refused_ref_update_leaves_the_kept_updater_usable(repo: Path, pipes: GitPipes) -> None:
    """One process serves every update, each its own transaction: one refused (the ref
    moved meanwhile) changes nothing, and the next one is served by a new process."""
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 1.2\n")
    snap = take_snapshot(worktree, pipes=pipes)
    shadow, head = snap.shadow_ref, git(repo, "rev-parse", "HEAD").strip()
    pin = f"refs/autocommit/pins/{head}"
    assert not pipes.refs.swap_and_pin(shadow, head, head, [head])  # it is not at HEAD
    assert git(repo, "rev-parse", shadow).strip() == snap.commit
    assert git(repo, "rev-parse", "--verify", "-q", pin, check=False) == ""  # all or nothing
    assert pipes.refs.swap_and_pin(shadow, head, snap.commit, [head])
    assert git(repo, "rev-parse", shadow).strip() == head
    assert git(repo, "rev-parse", pin).strip() == head
    assert pipes.refs.swap_and_pin(shadow, snap.commit, head, [])  # and again


def test_a_reader_keeps_few_trees_and_stays_exact(
    repo: Path, pipes: GitPipes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(objects, "_KEPT_ENTRIES", 3)  # fewer than one tree's entries
    worktree = find_worktree(repo)
    (repo / "src" / "deep").mkdir(parents=True)
    take_snapshot(worktree, pipes=pipes)
    for number in range(4):
        (repo / "src" / "deep" / f"m{number}.py").write_text(f"x = {number}\n")
        (repo / "train.py").write_text(f"lr = {number}\n")
        snap = take_snapshot(worktree, ["src", "train.py"], pipes=pipes)
        assert not snap.reconciled
        assert_exact(repo, snap.tree)


def test_the_trees_a_snapshot_writes_are_remembered_unless_there_are_many(
    repo: Path, pipes: GitPipes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's few new trees are kept by the reader (the change summaries and the next
    snapshot do not read them back); a burst's many are not (they would fill its cache),
    and the snapshots stay exact either way."""
    worktree = find_worktree(repo)
    take_snapshot(worktree, pipes=pipes)
    read = calls_to(monkeypatch, objects, "parse_tree")
    (repo / "src" / "deep").mkdir(parents=True)
    (repo / "src" / "deep" / "m.py").write_text("x = 1\n")
    snap = take_snapshot(worktree, ["src"], pipes=pipes)
    assert_exact(repo, snap.tree)
    kept = pipes.reader._trees
    assert snap.tree in kept and git(repo, "rev-parse", f"{snap.tree}:src/deep").strip() in kept
    (repo / "src" / "deep" / "m.py").write_text("x = 2\n")
    snap = take_snapshot(worktree, ["src/deep/m.py"], pipes=pipes)
    assert_exact(repo, snap.tree)
    assert read == [], "nothing written was read back"
    many = [f"burst/d{n}/f.txt" for n in range(100)]
    for path in many:
        (repo / path).parent.mkdir(parents=True)
        (repo / path).write_text(path)
    snap = take_snapshot(worktree, ["burst"], pipes=pipes)
    assert_exact(repo, snap.tree)
    assert len(read) > 100, "the summary read the new trees: none was handed over"
