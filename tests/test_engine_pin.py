"""take_snapshot(pin=...): what the caller asks is pinned with the shadow branch's update."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocommit.repo import find_worktree
from autocommit.run_commit import run_commit
from autocommit.snapshot import Snapshot, take_snapshot
from tests.gitutil import git


def _pins(root: Path) -> dict[str, str]:
    text = git(root, "for-each-ref", "--format=%(refname) %(objectname)", "refs/autocommit/pins/")
    return dict(line.split() for line in text.splitlines())


def test_every_kind_of_snapshot_gets_its_pin(repo: Path) -> None:
    worktree = find_worktree(repo)
    asked: list[Snapshot] = []

    def pin(snap: Snapshot) -> str:
        asked.append(snap)
        return run_commit(worktree, snap)

    clean = take_snapshot(worktree, pin=pin)  # the snapshot is HEAD: pinned as is
    (repo / "train.py").write_text("lr = 0.2\n")
    first = take_snapshot(worktree, pin=pin)  # the branch's first snapshot
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
    assert len((logs / "heads" / "main").read_text().splitlines()) == 2


def test_a_failing_pin_records_no_snapshot(repo: Path) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.4\n")
    take_snapshot(worktree)
    before = git(repo, "rev-parse", "autocommit/heads/main").strip()
    (repo / "train.py").write_text("lr = 0.5\n")

    def broken(snap: Snapshot) -> str:
        raise RuntimeError("no run commit")

    with pytest.raises(RuntimeError, match="no run commit"):
        take_snapshot(worktree, pin=broken)
    assert git(repo, "rev-parse", "autocommit/heads/main").strip() == before
    assert _pins(repo) == {}
