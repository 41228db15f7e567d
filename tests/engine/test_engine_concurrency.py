"""Concurrency: user commits never fail because of snapshots, every snapshot taken while
they run is exact, and concurrent snapshotters never lose an update."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from autocommit.engine.lock import snapshot_lock
from autocommit.engine.snapshot import take_snapshot
from autocommit.errors import AutocommitError
from autocommit.gitio.repo import find_worktree
from tests.support.git import git, tree_listing
from tests.support.oracle import expected_listing

SNAPSHOT_LOOP = """
import json, pathlib, sys
from autocommit.gitio.repo import find_worktree
from autocommit.engine.snapshot import take_snapshot
root, stop, files = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
worktree, i = find_worktree(root), 0
while not stop.exists() or i < 3:
    snap = take_snapshot(worktree, None if i % 4 == 0 else files[i % len(files):][:3])
    print(json.dumps(snap.to_dict()), flush=True)
    i += 1
"""


def test_user_commits_never_fail_and_snapshots_stay_exact(repo: Path, tmp_path: Path) -> None:
    files = [f"mod{i}.py" for i in range(24)]
    for name in files:
        (repo / name).write_text(f"# {name}\n")
    (repo / "train.py").write_text("lr = 0.01\n")
    expected = expected_listing(repo)  # the working tree does not change; index and HEAD do
    stop = tmp_path / "stop"
    snapshotter = subprocess.Popen(
        [sys.executable, "-c", SNAPSHOT_LOOP, str(repo), str(stop), *files],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    failures = []
    try:
        for name in [*files, "train.py"]:
            for args in (["add", "--", name], ["commit", "-q", "-m", f"add {name}"]):
                done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
                if done.returncode != 0:
                    failures.append(done.stderr)
    finally:
        stop.touch()
        out, err = snapshotter.communicate(timeout=120)
    assert failures == []
    assert snapshotter.returncode == 0, err
    snaps = [json.loads(line) for line in out.splitlines()]
    assert len(snaps) >= 3
    for snap in snaps:
        assert tree_listing(repo, snap["tree"]) == expected
        if snap["head"]:
            git(repo, "merge-base", "--is-ancestor", snap["head"], snap["commit"])
    assert git(repo, "status", "--porcelain") == ""


WRITER_LOOP = """
import json, pathlib, sys
from autocommit.gitio.repo import find_worktree
from autocommit.engine.snapshot import take_snapshot
root, name, rounds = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
worktree = find_worktree(root)
for i in range(rounds):
    (root / name).write_text(f"{name} {i}\\n")
    snap = take_snapshot(worktree, [name] if i % 3 else None)
    print(json.dumps(snap.to_dict()), flush=True)
"""


def test_two_snapshotters_never_lose_an_update(repo: Path) -> None:
    rounds = 12
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_LOOP, str(repo), name, str(rounds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a.txt", "b.txt")
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    snaps = [json.loads(line) for out, _ in results for line in out.splitlines()]
    created = {s["commit"] for s in snaps if s["created"]}
    assert len(snaps) == 2 * rounds and created
    chain = git(repo, "rev-list", "--first-parent", "refs/autocommit/heads/main", "^HEAD")
    assert created <= set(chain.split())  # no snapshot was overwritten by another
    merges = git(repo, "rev-list", "--min-parents=2", "refs/autocommit/heads/main", "^HEAD")
    assert merges == ""  # one straight line of snapshots
    reflog = git(repo, "reflog", "show", "--format=%H", "refs/autocommit/heads/main")
    assert created <= set(reflog.split())
    final = take_snapshot(find_worktree(repo))
    assert tree_listing(repo, final.tree) == expected_listing(repo)


def test_a_held_lock_gives_a_one_line_error_after_the_timeout(repo: Path) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 3\n")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with snapshot_lock(worktree, 5):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        with pytest.raises(AutocommitError) as error:
            take_snapshot(worktree, lock_timeout=0.3)
        assert "\n" not in str(error.value) and "another snapshot" in str(error.value)
    finally:
        release.set()
        holder.join()
    assert take_snapshot(worktree, lock_timeout=5).dirty
