"""Private stays private: an untracked file only its owner may read is left out of every
snapshot (full scan, incremental, daemon) and reported, unless the user opts in; a
tracked one is the user's code and always kept. Its content must reach no object of
the repository, which others may be able to read."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from autocommit.daemon import client
from autocommit.engine.exclusions import PRIVATE
from autocommit.engine.snapshot import Snapshot, take_snapshot
from autocommit.gitio.repo import Worktree, find_worktree
from tests.support.cli import run_cli
from tests.support.git import git, tree_listing
from tests.support.oracle import assert_exact


def secret_content() -> bytes:
    return f"password={uuid.uuid4().hex}\n".encode()


def write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, mode)


def blob_id(root: Path, data: bytes) -> str:
    return git(root, "hash-object", "--stdin", input=data).strip()


def assert_nowhere_in_objects(root: Path, data: bytes) -> None:
    """No object of the repository (loose or packed, reachable or not) holds ``data``."""
    blob = blob_id(root, data)
    found = subprocess.run(["git", "cat-file", "-e", blob], cwd=root, capture_output=True)
    assert found.returncode != 0, f"the private content is stored as blob {blob}"
    listing = git(root, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
    assert blob not in listing.split()
    everything = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"],
                                cwd=root, capture_output=True, check=True).stdout  # fmt: skip
    assert data not in everything


def skipped(snap: Snapshot) -> dict[str, str]:
    return {s.path: s.reason for s in snap.skipped}


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700, 0o500])
def test_an_owner_only_untracked_file_is_left_out_and_reported(repo: Path, mode: int) -> None:
    data = secret_content()
    write(repo / "notes" / "private.txt", data, mode)
    (repo / "public.txt").write_text("shared\n")
    snap = take_snapshot(find_worktree(repo))
    assert skipped(snap) == {"notes/private.txt": PRIVATE}
    tree = tree_listing(repo, snap.commit)
    assert "public.txt" in tree and "notes/private.txt" not in tree
    message = git(repo, "log", "-1", "--format=%B", snap.commit)
    assert f"Autocommit-Skipped: notes/private.txt ({PRIVATE})" in message
    assert_exact(repo, snap.tree)
    assert_nowhere_in_objects(repo, data)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o755])
def test_a_file_others_may_read_is_kept(repo: Path, mode: int) -> None:
    write(repo / "shared.txt", b"for the team\n", mode)
    snap = take_snapshot(find_worktree(repo))
    assert "shared.txt" in tree_listing(repo, snap.commit) and not snap.skipped


def test_a_tracked_owner_only_file_is_kept(repo: Path) -> None:
    os.chmod(repo / "train.py", 0o600)
    (repo / "train.py").write_text("lr = 0.2\n")
    snap = take_snapshot(find_worktree(repo))
    assert not snap.skipped
    assert git(repo, "show", f"{snap.commit}:train.py") == "lr = 0.2\n"


def test_the_cli_reports_it(repo: Path) -> None:
    write(repo / "private.txt", secret_content(), 0o600)
    (repo / "notes.md").write_text("a new file: the snapshot is a commit of its own\n")
    done = run_cli(repo, "snapshot", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["skipped"] == [{"path": "private.txt", "reason": PRIVATE}]
    shown = run_cli(repo, "show", record["commit"])
    assert shown.returncode == 0, shown.stderr
    assert f"private.txt ({PRIVATE})" in shown.stdout
    shown = run_cli(repo, "show", record["commit"], "--json")
    assert shown.returncode == 0, shown.stderr
    assert {"path": "private.txt", "reason": PRIVATE} in json.loads(shown.stdout)["skipped"]


def test_the_user_may_opt_in(repo: Path) -> None:
    write(repo / "private.txt", b"mine, but snapshot it\n", 0o600)
    git(repo, "config", "autocommit.includePrivate", "true")
    snap = take_snapshot(find_worktree(repo))
    assert "private.txt" in tree_listing(repo, snap.commit) and not snap.skipped
    assert_exact(repo, snap.tree, include_private=True)


def test_incremental_snapshots_follow_the_mode(repo: Path) -> None:
    """chmod 600 of a captured file drops it from the next snapshot; chmod 644 brings it
    back; a new owner-only file never gets in. Each without a full scan."""
    worktree = find_worktree(repo)
    data = secret_content()
    write(repo / "later.txt", data, 0o644)
    take_snapshot(worktree)  # a full scan: the state incremental snapshots start from
    os.chmod(repo / "later.txt", 0o600)
    snap = take_snapshot(worktree, ["later.txt"])
    assert not snap.reconciled
    assert skipped(snap) == {"later.txt": PRIVATE}
    assert "later.txt" not in tree_listing(repo, snap.commit)
    os.chmod(repo / "later.txt", 0o644)
    snap = take_snapshot(worktree, ["later.txt"])
    assert not snap.reconciled and not snap.skipped
    assert "later.txt" in tree_listing(repo, snap.commit)

    os.chmod(repo / "train.py", 0o600)  # tracked: the user's code, whatever its mode
    (repo / "train.py").write_text("lr = 0.9\n")
    snap = take_snapshot(worktree, ["train.py"])
    assert not snap.reconciled and not snap.skipped
    assert git(repo, "show", f"{snap.commit}:train.py") == "lr = 0.9\n"

    fresh = secret_content()
    write(repo / "new" / "key.txt", fresh, 0o600)
    snap = take_snapshot(worktree, ["new"])
    assert not snap.reconciled
    assert skipped(snap) == {"new/key.txt": PRIVATE}
    assert_exact(repo, snap.tree)
    assert_nowhere_in_objects(repo, fresh)


def test_the_daemon_leaves_it_out_and_follows_chmod(daemon: Worktree) -> None:
    root = daemon.root
    data = secret_content()
    write(root / "private.txt", data, 0o600)
    snap = client.sync(daemon, timeout=30)
    assert snap is not None and skipped(snap) == {"private.txt": PRIVATE}
    assert_nowhere_in_objects(root, data)

    write(root / "shared.txt", b"v1\n", 0o644)
    snap = client.sync(daemon, timeout=30)
    assert snap is not None and "shared.txt" in tree_listing(root, snap.commit)
    os.chmod(root / "shared.txt", 0o600)  # only an attribute change: IN_ATTRIB
    snap = client.sync(daemon, timeout=30)
    assert snap is not None and not snap.reconciled
    assert "shared.txt" not in tree_listing(root, snap.commit)
    assert skipped(snap) == {"private.txt": PRIVATE, "shared.txt": PRIVATE}
    os.chmod(root / "shared.txt", 0o644)
    snap = client.sync(daemon, timeout=30)
    assert snap is not None and not snap.reconciled
    assert "shared.txt" in tree_listing(root, snap.commit)
    assert skipped(snap) == {"private.txt": PRIVATE}
    assert_nowhere_in_objects(root, data)
