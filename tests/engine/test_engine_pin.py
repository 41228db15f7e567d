"""take_snapshot(pin=...): what the caller asks is pinned with the shadow branch's update."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocommit.engine.run_commit import run_commit, run_commit_to_pin
from autocommit.engine.snapshot import CommitToPin, Snapshot, take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.git import git, identity_of


def _pins(root: Path) -> dict[str, str]:
    text = git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/autocommit/pins/")
    return dict(line.split() for line in text.splitlines())


def test_every_kind_of_snapshot_gets_its_pin(repo: Path) -> None:
    worktree = find_worktree(repo)
    asked: list[Snapshot] = []

    def pin(snap: Snapshot, text: bytes | None) -> CommitToPin:
        asked.append(snap)
        return run_commit_to_pin(worktree, snap, text)

    clean = take_snapshot(worktree, pin=pin)  # HEAD, pinned as is; the chain starts on it
    (repo / "train.py").write_text("lr = 0.2\n")
    first = take_snapshot(worktree, pin=pin)  # the branch's first dirty snapshot
    (repo / "train.py").write_text("lr = 0.3\n")
    second = take_snapshot(worktree, pin=pin)  # moves the shadow ref and pins, together
    again = take_snapshot(worktree, pin=pin)  # unchanged: the same snapshot and run commit
    assert [s.commit for s in asked] == [clean.commit, first.commit, second.commit, second.commit]
    assert again.commit == second.commit and not again.created
    runs = [clean.commit, run_commit(worktree, first), run_commit(worktree, second)]
    assert _pins(repo) == {f"refs/autocommit/pins/{c}": c for c in runs}
    assert git(repo, "rev-parse", "autocommit/heads/main").strip() == second.commit
    logs = repo / ".git" / "logs" / "refs" / "autocommit"
    assert not (logs / "pins").exists()  # pins get no reflog
    assert len((logs / "heads" / "main").read_text().splitlines()) == 3
    git(repo, "fsck", "--strict", "--no-dangling")  # both commits written as git would


def test_a_run_commit_written_with_its_snapshot_is_what_git_commit_tree_makes(repo: Path) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.6\n")
    take_snapshot(worktree)  # the chain's first snapshot
    (repo / "train.py").write_text("lr = 0.7\n")
    made: list[CommitToPin] = []

    def pin(snap: Snapshot, text: bytes | None) -> CommitToPin:
        made.append(run_commit_to_pin(worktree, snap, text))
        return made[-1]

    snap = take_snapshot(worktree, pin=pin)
    assert made[0].text is not None  # written along with the snapshot
    env, message = identity_of(repo, snap.commit)
    message = message.rstrip("\n") + f"\nAutocommit-Snapshot: {snap.commit}"
    by_git = git(repo, "commit-tree", snap.tree, "-p", snap.head or "", "-m", message, env=env)
    assert made[0].commit == by_git.strip()
    assert _pins(repo) == {f"refs/autocommit/pins/{by_git.strip()}": by_git.strip()}


def test_a_failing_pin_records_no_snapshot(repo: Path) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.4\n")
    take_snapshot(worktree)
    before = git(repo, "rev-parse", "autocommit/heads/main").strip()
    (repo / "train.py").write_text("lr = 0.5\n")

    def broken(snap: Snapshot, text: bytes | None) -> CommitToPin:
        raise RuntimeError("no run commit")

    with pytest.raises(RuntimeError, match="no run commit"):
        take_snapshot(worktree, pin=broken)
    assert git(repo, "rev-parse", "autocommit/heads/main").strip() == before
    assert _pins(repo) == {}
