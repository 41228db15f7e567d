"""A sync for an MLflow run: the daemon makes and pins the run commit and its change summary."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autocommit.contract import COMMIT_TAG, CONTEXT_DATA, CONTEXT_ENVIRONMENT
from autocommit.daemon import client, control
from autocommit.engine.change_summary import changes_since_head
from autocommit.engine.run_commit import run_commit
from autocommit.engine.run_pin import RunPin
from autocommit.gitio import refs
from autocommit.gitio.repo import Worktree
from autocommit.settings import config
from autocommit.tracking.run_tags import tags_for
from tests.support.git import git
from tests.support.mlflow import assert_run_commit, pinned


def test_the_daemon_pins_the_run_commit_of_its_snapshot(daemon: Worktree) -> None:
    root = daemon.root
    (root / "train.py").write_text("lr = 0.2\n")
    synced = client.sync_for_run(daemon)
    assert synced is not None
    snap, run = synced
    assert run is not None and run.newly_pinned
    assert_run_commit(root, run.commit, snap.commit)
    assert run.commit == run_commit(daemon, snap)
    assert run.commit in pinned(root)
    assert run.changes == changes_since_head(daemon, snap)
    assert run.changes is not None and "train.py" in run.changes
    again = client.sync_for_run(daemon)  # nothing changed: the same commit, already pinned
    assert again is not None and again[1] is not None
    assert again[0] == snap and again[1].commit == run.commit and not again[1].newly_pinned


def test_a_clean_tree_pins_head_and_has_no_changes(daemon: Worktree) -> None:
    synced = client.sync_for_run(daemon)
    assert synced is not None and synced[1] is not None
    head = git(daemon.root, "rev-parse", "HEAD").strip()
    assert synced[1].commit == head and synced[1].changes is None
    assert head in pinned(daemon.root)


def test_without_the_daemon_s_run_commit_the_plugin_pins_it(daemon: Worktree) -> None:
    """What happens with a daemon that answers a plain sync (one of an older version)."""
    root = daemon.root
    (root / "train.py").write_text("lr = 0.3\n")
    snap = client.sync(daemon)
    assert snap is not None
    expected = run_commit(daemon, snap)
    assert not refs.pin_seen(daemon, expected)
    with ThreadPoolExecutor(max_workers=1) as pool:
        tags = tags_for(daemon, config.load(root), snap, RunPin(daemon, pool))
    assert tags[COMMIT_TAG] == expected
    assert refs.pin_seen(daemon, expected)


def test_runs_get_distinct_pins_as_the_code_changes(daemon: Worktree) -> None:
    root: Path = daemon.root
    commits = []
    for lr in ("0.4", "0.5", "0.4"):
        (root / "train.py").write_text(f"lr = {lr}\n")
        synced = client.sync_for_run(daemon)
        assert synced is not None and synced[1] is not None
        assert_run_commit(root, synced[1].commit, synced[0].commit)
        commits.append(synced[1].commit)
    assert len(set(commits)) == 3  # the same code later is a new snapshot on the chain
    assert set(commits) <= pinned(root)


def test_the_daemon_pins_a_run_s_context_on_its_run_commit(daemon: Worktree) -> None:
    root = daemon.root
    (root / "train.py").write_text("lr = 0.6\n")
    files = {CONTEXT_ENVIRONMENT: b"Python 3\nmlflow==3\n", CONTEXT_DATA: b"[\n\xff\n]\n"}
    synced = client.sync_for_run(daemon, context=files)
    assert synced is not None
    run = synced[1]
    assert run is not None
    assert run.context is not None and {run.commit, run.context} <= pinned(root)
    assert git(root, "rev-parse", f"{run.context}^@").split() == [run.commit]
    for name, content in files.items():
        shown = subprocess.run(["git", "show", f"{run.context}:{name}"], cwd=root,
                               capture_output=True, check=True).stdout  # fmt: skip
        assert shown == content
    assert git(root, "ls-tree", "--name-only", run.context).split() == sorted(files)
    git(root, "fsck", "--strict", "--no-progress")
    again = client.sync_for_run(daemon, context=files)  # the same: nothing new is written
    assert again is not None and again[1] is not None and again[1].context == run.context


def test_the_sync_answer_says_where_the_wait_went(daemon: Worktree) -> None:
    (daemon.root / "train.py").write_text("lr = 0.7\n")
    answer = control.request(daemon, {"op": "sync", "run": True}, 30)
    phases = answer["phases"]
    assert list(phases) == ["cookie seen", "taken", "checked", "snapshot", "answered"]
    assert all(isinstance(ms, float) and ms >= 0 for ms in phases.values())
    unchanged = control.request(daemon, {"op": "sync", "run": True}, 30)["phases"]
    assert list(unchanged) == ["cookie seen", "taken", "answered"]
