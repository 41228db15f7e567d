"""Pruning with real git and real MLflow: pinned runs' code stays, the rest is freed."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import pytest

from autocommit import contract
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import refs
from autocommit.gitio.repo import find_worktree
from autocommit.reproduce.prune import prune
from tests.support.cli import main_in_process
from tests.support.engine import snapshots
from tests.support.git import assert_fsck_clean, disk_listing, exists, git, tree_listing, user_state
from tests.support.mlflow import Tracking, start_run, tree_of

# The tracking-store and repository fixtures of the round-trip tests.

mlflow = pytest.importorskip("mlflow")


def blob_of(root: Path, commit: str, path: str) -> str:
    return git(root, "rev-parse", f"{commit}:{path}").strip()


def chain(root: Path, ref: str = "refs/autocommit/heads/main") -> list[str]:
    """The shadow chain's snapshots, newest first (stops at the user's commits)."""
    out = git(root, "log", "--first-parent", "--format=%H %(trailers:key=Autocommit-Head)", ref)
    return [line.split()[0] for line in out.splitlines() if "Autocommit-Head" in line]


def parents(root: Path, sha: str) -> list[str]:
    return git(root, "rev-parse", f"{sha}^@").split()


def test_prune_keeps_every_pinned_run_and_frees_the_rest(
    enabled: Path, tracking: Tracking, tmp_path: Path
) -> None:
    root = enabled
    git(root, "config", "gc.pruneExpire", "now")
    early = snapshots(root, 60, "early")
    run1, pin1 = start_run()
    middle = snapshots(root, 120, "middle")
    run2, pin2 = start_run()
    (root / "model.py").write_text("layers = 3\n")
    run3, pin3 = start_run()
    late = snapshots(root, 150, "late")
    git(root, "worktree", "add", "-q", "--detach", str(tmp_path / "elsewhere"), pin1)
    head = git(root, "rev-parse", "HEAD").strip()
    pins = (pin1, pin2, pin3)
    for pin in pins:  # runs are pinned on their run commits, off the shadow chain
        assert parents(root, pin) == [head]
    before_chain = chain(root)
    assert not set(pins) & set(before_chain)
    unpinned = [*early, *middle, *late[:-1]]
    assert set(unpinned) < set(before_chain)
    pinned_blobs = {blob_of(root, pin, "data.txt") for pin in pins}
    unpinned_blobs = {blob_of(root, c, "data.txt") for c in unpinned} - pinned_blobs
    assert len(unpinned_blobs) == len(unpinned) - 2  # the runs' data.txt came from two of them
    tip_tree = git(root, "rev-parse", "refs/autocommit/heads/main^{tree}").strip()
    before = user_state(root)

    code, out, err = main_in_process("prune", "--older-than", "0", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert "prune: reading shadow branches" in err  # progress, on stderr

    for run_id, pin in zip((run1, run2, run3), pins, strict=True):  # every run's code stays
        assert exists(root, pin), pin
        where = tmp_path / f"check-{run_id[:8]}"
        code, _, err = main_in_process("checkout", run_id, str(where))
        assert code == 0, err
        assert disk_listing(where) == tree_listing(root, pin)
    assert all(exists(root, blob) for blob in pinned_blobs)
    # Every snapshot but the tip goes, early, middle and late alike, with what only it used.
    assert [sha for sha in before_chain if exists(root, sha)] == []
    assert [blob for blob in unpinned_blobs if exists(root, blob)] == []
    assert report["snapshots_dropped"] == len(before_chain) - 1
    # a commit, a tree and a blob each, but for the two trees and blobs the runs still use
    assert report["objects_removed"] == report["objects_unreachable"] >= 3 * len(unpinned) - 4
    assert report["bytes_freed"] > 0
    assert report["pins_kept"] == 6  # three runs: their run commits and contexts
    (result,) = report["chains"]
    assert (result["kept_for_pins"], result["pins_on_chain"], result["rewritten"]) == (0, 0, 1)

    # The chain goes on from the kept tip (same tree), now right on HEAD.
    new_tip = git(root, "rev-parse", "refs/autocommit/heads/main").strip()
    assert new_tip == result["new_tip"] and chain(root) == [new_tip]
    assert git(root, "rev-parse", f"{new_tip}^{{tree}}").strip() == tip_tree
    assert parents(root, new_tip) == [head]
    (root / "data.txt").write_text("after the prune\n")
    after = take_snapshot(find_worktree(root), ["data.txt"])
    assert chain(root) == [after.commit, new_tip]
    git(root, "merge-base", "--is-ancestor", "HEAD", after.commit)
    assert_fsck_clean(root)
    state = user_state(root)
    state.files.pop("data.txt")
    before.files.pop("data.txt")
    assert state == before


def test_pins_on_a_chain_keep_the_snapshots_they_need(
    enabled: Path, tracking: Tracking, tmp_path: Path
) -> None:
    """A run pinned before run commits existed pinned its chain snapshot, which needs
    every older one; a run on a chain's first snapshot pins that snapshot itself."""
    root = enabled
    git(root, "config", "gc.pruneExpire", "now")
    old_style = snapshots(root, 30, "old style")
    pinned_snapshot = old_style[-1]
    refs.pin(root, pinned_snapshot)  # what the plugin used to do
    old_run = tracking.client.create_run(
        tracking.experiment_id,
        tags={"autocommit.commit": pinned_snapshot},
    ).info.run_id
    between = snapshots(root, 20, "between")
    git(root, "commit", "-q", "-m", "the user commits", "--allow-empty")  # HEAD moves
    head = git(root, "rev-parse", "HEAD").strip()
    after = snapshots(root, 20, "after")
    assert parents(root, after[0]) == [between[-1], head]

    git(root, "switch", "-q", "-c", "feature")  # a new chain: its first snapshot is on HEAD
    (root / "feature.py").write_text("feature = True\n")
    feature_run, feature_pin = start_run()
    assert chain(root, "refs/autocommit/heads/feature") == [feature_pin]
    assert parents(root, feature_pin) == [head]
    feature_later = snapshots(root, 10, "feature")
    tip_trees = [tree_of(root, after[-1]), tree_of(root, feature_later[-1])]

    code, out, err = main_in_process("prune", "--older-than", "0")
    assert code == 0, err
    assert "20 older ones kept" not in out
    assert "30 older ones kept: 1 pinned snapshots on it build on them" in out
    assert "1 older ones kept: 1 pinned snapshots on it build on them" in out

    main = chain(root)
    assert main[1:] == old_style[::-1]  # the pinned snapshot and everything below it
    assert parents(root, main[0]) == [pinned_snapshot, head]  # HEAD stays an ancestor
    assert not any(exists(root, sha) for sha in [*between, *after])
    feature = chain(root, "refs/autocommit/heads/feature")
    assert feature[1:] == [feature_pin]
    assert [tree_of(root, main[0]), tree_of(root, feature[0])] == tip_trees
    assert not any(exists(root, sha) for sha in feature_later)
    for run_id, pin in ((old_run, pinned_snapshot), (feature_run, feature_pin)):
        where = tmp_path / f"check-{run_id[:8]}"
        code, _, err = main_in_process("checkout", run_id, str(where))
        assert code == 0, err
        assert disk_listing(where) == tree_listing(root, pin)
    assert_fsck_clean(root)

    code, out, err = main_in_process("prune", "--older-than", "0", "--json")  # nothing more to do
    assert code == 0, err
    assert json.loads(out)["snapshots_dropped"] == 0
    assert chain(root) == main


def test_a_fetched_copy_of_a_chain_is_pruned_alike(repo: Path) -> None:
    git(repo, "config", "gc.pruneExpire", "now")
    made = snapshots(repo, 30, "shared")
    git(repo, "update-ref", "refs/autocommit/remotes/origin/heads/main", made[-1])
    git(repo, "update-ref", "refs/autocommit/remotes/other/heads/main", made[19])
    worktree = find_worktree(repo)
    other_tree = tree_of(repo, made[19])

    dry = prune(worktree, time.time(), dry_run=True)
    real = prune(worktree, time.time())

    assert dry.objects_unreachable == real.objects_unreachable == real.objects_removed > 0
    tips = refs.list_refs(repo, contract.NAMESPACE)
    ours, copy = (
        tips["refs/autocommit/heads/main"],
        tips["refs/autocommit/remotes/origin/heads/main"],
    )
    assert ours == copy  # re-created alike: one commit, not two
    assert parents(repo, ours) == [git(repo, "rev-parse", "HEAD").strip()]
    other = tips["refs/autocommit/remotes/other/heads/main"]
    assert tree_of(repo, other) == other_tree
    assert not any(exists(repo, sha) for sha in made)
    assert_fsck_clean(repo)


def test_prune_keeps_snapshots_newer_than_the_cutoff(repo: Path) -> None:
    git(repo, "config", "gc.pruneExpire", "now")
    old = snapshots(repo, 30, "old")
    git(repo, "add", "data.txt")
    git(repo, "commit", "-q", "-m", "a commit of the user's between old and new snapshots")
    time.sleep(math.ceil(time.time()) - time.time() + 0.05)  # into the next second
    cutoff = math.floor(time.time())
    new = snapshots(repo, 20, "new")
    git(repo, "commit", "-q", "-am", "and one among the new ones")  # HEAD moves mid-chain
    new += snapshots(repo, 5, "newest")
    trees = [git(repo, "rev-parse", f"{c}^{{tree}}").strip() for c in reversed(new)]

    report = prune(find_worktree(repo), cutoff)

    assert report.snapshots_dropped == len(old)
    assert not any(exists(repo, sha) for sha in old)
    kept = chain(repo)
    assert [git(repo, "rev-parse", f"{c}^{{tree}}").strip() for c in kept] == trees
    for sha in kept:  # every snapshot still has its HEAD as an ancestor
        head = git(repo, "log", "-1", "--format=%(trailers:key=Autocommit-Head,valueonly)", sha)
        git(repo, "merge-base", "--is-ancestor", head.strip(), sha)
    assert kept[0] == git(repo, "rev-parse", "refs/autocommit/heads/main").strip()
    assert_fsck_clean(repo)


def test_dry_run_changes_nothing_and_predicts_the_real_run(repo: Path) -> None:
    git(repo, "config", "gc.pruneExpire", "now")
    snapshots(repo, 40, "some")
    git_dir = repo / ".git"

    def everything() -> tuple[str, str, str, bytes]:
        return (
            git(repo, "for-each-ref"),
            git(repo, "count-objects", "-v"),
            git(repo, "rev-list", "--all", "--reflog", "--objects"),
            (git_dir / "logs/refs/autocommit/heads/main").read_bytes(),
        )

    before = everything()
    code, out, err = main_in_process("-C", str(repo), "prune", "--older-than", "0", "--dry-run")
    assert code == 0, err
    assert "would drop 39 snapshots" in out and "nothing was changed" in out
    assert everything() == before
    dry = prune(find_worktree(repo), time.time(), dry_run=True)
    real = prune(find_worktree(repo), time.time())
    assert (dry.snapshots_dropped, dry.objects_unreachable) == (39, real.objects_unreachable)
    assert real.objects_removed == real.objects_unreachable


def test_young_objects_wait_for_gc_prune_expire(repo: Path) -> None:
    made = snapshots(repo, 10, "young")  # gc.pruneExpire is two weeks by default
    report = prune(find_worktree(repo), time.time())
    assert report.snapshots_dropped == 9 and report.objects_unreachable > 0
    assert report.objects_removed == 0  # the grace period that protects concurrent writers
    assert all(exists(repo, sha) for sha in made)
    assert chain(repo) == [git(repo, "rev-parse", "refs/autocommit/heads/main").strip()]
    assert_fsck_clean(repo)


def test_deleted_runs_get_unpinned(enabled: Path, tracking: Tracking) -> None:
    root = enabled
    (root / "train.py").write_text("lr = 1\n")
    gone_run, gone = start_run()
    (root / "train.py").write_text("lr = 2\n")
    kept_run, kept = start_run()
    kept_context = tracking.client.get_run(kept_run).data.tags[contract.CONTEXT_TAG]
    (root / "train.py").write_text("lr = 3\n")
    manual = take_snapshot(find_worktree(root)).commit
    refs.pin(root, manual)  # no run refers to it: never unpinned
    tracking.client.delete_run(gone_run)

    code, out, err = main_in_process("prune", "--unpin-deleted-runs", "--dry-run")
    assert code == 0, err
    assert "would unpin 2 commits" in out  # the deleted run's commit and its context
    assert {gone, kept, manual} <= set(refs.list_refs(root, contract.PIN_PREFIX).values())
    code, out, err = main_in_process("prune", "--unpin-deleted-runs", "--older-than", "0")
    assert code == 0, err
    assert set(refs.list_refs(root, contract.PIN_PREFIX).values()) == {kept, kept_context, manual}
    assert_fsck_clean(root)


def test_snapshots_taken_during_a_prune_are_not_lost(repo: Path) -> None:
    git(repo, "config", "gc.pruneExpire", "now")  # the prune holds the lock while reclaiming
    snapshots(repo, 60, "before")
    worktree = find_worktree(repo)
    trees: list[str] = []  # a tip made before a prune is re-created: the tree stays
    errors: list[BaseException] = []

    def keep_snapshotting() -> None:
        try:
            for i in range(40):
                (repo / "busy.txt").write_text(f"edit {i}\n")
                trees.append(take_snapshot(worktree, ["busy.txt"]).tree)
        except BaseException as exc:
            errors.append(exc)

    writer = threading.Thread(target=keep_snapshotting)
    writer.start()
    for _ in range(3):
        prune(worktree, time.time())
    writer.join()
    assert not errors, errors
    tip = git(repo, "rev-parse", "refs/autocommit/heads/main").strip()
    assert git(repo, "rev-parse", f"{tip}^{{tree}}").strip() == trees[-1]
    assert git(repo, "show", f"{tip}:busy.txt") == "edit 39\n"
    assert_fsck_clean(repo)
