"""Prune leaves what git keeps about the object store (commit-graph, multi-pack-index,
bitmaps, reflogs) true, so ``git fsck --strict`` stays clean, in every configuration of
``gc.pruneExpire``; and it keeps those indexes, as ``git gc`` does."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from autocommit.engine.run_commit import run_commit
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import object_store, refs
from autocommit.gitio.repo import find_worktree
from autocommit.reproduce.prune import prune
from tests.support.cli import run_cli
from tests.support.engine import snapshots
from tests.support.git import assert_fsck_clean, exists, git

THREE_WEEKS = 21 * 24 * 3600

# What a user (or git gc, or git maintenance) may have written, before the last snapshots.
INDEXES = {
    "none": [],
    "commit-graph": [["commit-graph", "write", "--reachable"]],
    "split commit-graph": [["commit-graph", "write", "--reachable", "--split=replace"]],
    "multi-pack-index": [["multi-pack-index", "write"]],
    "pack bitmaps": [["repack", "-adbq"]],
    "midx bitmaps": [["repack", "-adq", "--write-midx", "--write-bitmap-index"]],
    "all": [["repack", "-adq", "--write-midx", "--write-bitmap-index"],
            ["commit-graph", "write", "--reachable"]],
}  # fmt: skip


def _backdate_objects(root: Path) -> None:
    """Every object file three weeks old, so that the default gc.pruneExpire lets go."""
    stamp = time.time() - THREE_WEEKS
    for directory, _, names in os.walk(root / ".git" / "objects"):
        for name in names:
            os.utime(Path(directory, name), (stamp, stamp))


def _verify(root: Path, *what: str) -> None:
    proc = subprocess.run(["git", *what], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("expire", ["default", "now", "never"])
@pytest.mark.parametrize("indexes", list(INDEXES))
def test_prune_keeps_fsck_clean_and_the_indexes_git_had(
    repo: Path, indexes: str, expire: str
) -> None:
    worktree = find_worktree(repo)
    snapshots(repo, 4, "packed")
    (repo / "model.py").write_text("layers = 2\n")
    run = run_commit(worktree, take_snapshot(worktree))
    refs.pin(repo, run)
    git(repo, "repack", "-dq")  # some dropped snapshots are in a pack, others loose
    dropped = snapshots(repo, 4, "loose")
    for command in INDEXES[indexes]:
        git(repo, *command)
    before = object_store.present(repo / ".git" / "objects")
    snapshots(repo, 1, "last")  # a commit the indexes do not know yet
    if expire == "default":
        _backdate_objects(repo)
    else:
        git(repo, "config", "gc.pruneExpire", expire)

    report = prune(worktree, time.time() + 1)

    assert_fsck_clean(repo)
    assert exists(repo, run) and refs.pin_seen(worktree, run)
    git(repo, "rev-list", "--objects", "--missing=error", run)  # the run's code, all of it
    assert report.snapshots_dropped >= len(dropped)
    if expire == "never":
        assert report.objects_removed == 0 and all(exists(repo, sha) for sha in dropped)
    else:
        assert report.objects_removed == report.objects_unreachable > 0
        assert not any(exists(repo, sha) for sha in dropped)
    after = object_store.present(repo / ".git" / "objects")
    assert after.any_commit_graph == before.any_commit_graph
    assert after.commit_graph_chain == before.commit_graph_chain
    assert after.midx == before.midx
    assert (after.midx_bitmap or after.pack_bitmap) == (before.midx_bitmap or before.pack_bitmap)
    if after.any_commit_graph:
        _verify(repo, "commit-graph", "verify")
    if after.midx:
        _verify(repo, "multi-pack-index", "verify")
    if after.midx_bitmap or after.pack_bitmap:
        _verify(repo, "rev-list", "--test-bitmap", run)
    assert "autocommit" not in git(repo, "reflog", "show", "HEAD")


def test_the_commit_graph_repro_of_the_readme_advice(repo: Path) -> None:
    """A commit-graph written by ``git gc``, then ``gc.pruneExpire=now`` as the README
    suggests: the graph names the dropped snapshots unless prune rewrites it."""
    assert run_cli(repo, "init", "--no-hooks", "--no-daemon").returncode == 0
    for i in range(5):
        (repo / "a.py").write_text(f"{i}\n")
        assert run_cli(repo, "snapshot").returncode == 0
    git(repo, "commit-graph", "write", "--reachable")
    (repo / "a.py").write_text("x\n")
    assert run_cli(repo, "snapshot").returncode == 0
    git(repo, "config", "gc.pruneExpire", "now")
    done = run_cli(repo, "prune", "--older-than", "0")
    assert done.returncode == 0, done.stderr
    # init's snapshot of the clean tree and the first five (one commit object each) go
    assert "dropped 6 snapshots" in done.stdout and " 17 removed;" in done.stdout
    assert "prune: rewriting the commit-graph" in done.stderr
    assert_fsck_clean(repo)
    _verify(repo, "commit-graph", "verify")
