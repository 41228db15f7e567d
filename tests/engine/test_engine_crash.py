"""Crash safety: snapshots killed with SIGKILL at random instants leave the repository
consistent (``git fsck`` clean), no lock that blocks the next snapshot, and the next
snapshot exact."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from autocommit.engine import snapshot_state
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.git import git, user_state
from tests.support.oracle import assert_exact

KILLS = 60
FILES = [f"src/m{i}.py" for i in range(6)] + ["train.py", "notes.md", "new/dir/x.py"]


def _snapshot_forever(root: str, seed: int, ready: multiprocessing.synchronize.Event) -> None:
    """The victim: edits files and snapshots them, full and incremental, until killed."""
    os.setpgid(0, 0)  # its git children share its process group, for the group kills
    rng = random.Random(seed)
    worktree = find_worktree(Path(root))
    ready.set()
    for i in range(10**6):
        touched = rng.sample(FILES, 2)
        for name in touched:
            path = Path(root, name)
            if rng.random() < 0.2 and path.exists():
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"{name} {seed} {i}\n")
        take_snapshot(worktree, None if i % 5 == 0 else touched)


def _fsck(root: Path) -> None:
    done = subprocess.run(["git", "fsck", "--no-progress", "--no-dangling"], cwd=root,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr + done.stdout


def test_snapshots_killed_at_random_instants(repo: Path) -> None:
    context = multiprocessing.get_context("fork")
    rng = random.Random(2024)
    worktree = find_worktree(repo)
    take_snapshot(worktree)
    before = user_state(repo)
    group_kills = 0
    for kill in range(KILLS):
        ready = context.Event()
        victim = context.Process(target=_snapshot_forever, args=(str(repo), kill, ready))
        victim.start()
        assert ready.wait(30) and victim.pid is not None
        time.sleep(rng.uniform(0, 0.12))
        if kill % 2:
            os.killpg(victim.pid, signal.SIGKILL)  # git children die too, mid-write
            group_kills += 1
        else:
            os.kill(victim.pid, signal.SIGKILL)  # git children live on, orphaned
        victim.join()
        assert victim.exitcode == -signal.SIGKILL
        # The next snapshot, told every path the victim may have touched, is exact.
        started = time.monotonic()
        snap = take_snapshot(worktree, FILES, lock_timeout=30)
        assert time.monotonic() - started < 10
        assert_exact(repo, snap.tree)
        if kill % 10 == 9:
            _fsck(repo)
    assert group_kills >= KILLS // 2
    assert_exact(repo, take_snapshot(worktree).tree)
    _fsck(repo)
    after = user_state(repo)
    assert after.git_state == before.git_state
    git(repo, "merge-base", "--is-ancestor", "HEAD", "refs/autocommit/heads/main")


def test_stale_git_locks_left_by_a_killed_git_do_not_block(repo: Path) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 1\n")
    take_snapshot(worktree)
    ref_lock = repo / ".git" / "refs" / "autocommit" / "heads" / "main.lock"
    index_lock = repo / ".git" / "autocommit" / "index.lock"
    for lock in (ref_lock, index_lock):
        lock.write_text("left by a killed git\n")
        os.utime(lock, (time.time() - 60, time.time() - 60))
    (repo / "train.py").write_text("lr = 2\n")
    started = time.monotonic()
    snap = take_snapshot(worktree, lock_timeout=5)
    assert time.monotonic() - started < 5
    assert not ref_lock.exists() and not index_lock.exists()
    assert git(repo, "rev-parse", "refs/autocommit/heads/main").strip() == snap.commit
    assert_exact(repo, snap.tree)


def test_damaged_private_files_are_rebuilt(repo: Path) -> None:
    worktree = find_worktree(repo)
    state_dir = repo / ".git" / "autocommit"
    (repo / "train.py").write_text("lr = 1\n")
    take_snapshot(worktree)
    (state_dir / "state.json").write_bytes(b"{not json")
    (repo / "train.py").write_text("lr = 2\n")
    snap = take_snapshot(worktree, ["train.py"])
    assert snap.reconciled  # no usable state: a full scan
    assert_exact(repo, snap.tree)
    (state_dir / "index").write_bytes(b"garbage, not an index")
    (repo / "train.py").write_text("lr = 3\n")
    assert_exact(repo, take_snapshot(worktree, ["train.py"]).tree)  # needs no index
    (repo / "train.py").write_text("lr = 4\n")
    assert_exact(repo, take_snapshot(worktree).tree)  # re-seeds it
    # A state cut short by a crash (its checksum no longer matches) reads as none.
    take_snapshot(worktree, [])
    whole = (state_dir / "state.json").read_bytes()
    (state_dir / "state.json").write_bytes(whole[: len(whole) // 2] + b"x" * (len(whole) // 2))
    assert snapshot_state.load(worktree) is None
    take_snapshot(worktree)
    # The state names a tree that is not in the object store (pruned, say).
    state = snapshot_state.load(worktree)
    assert state is not None
    snapshot_state.save(worktree, state._replace(tree="1" * 40))
    (repo / "train.py").write_text("lr = 9\n")
    snap = take_snapshot(worktree, ["train.py"])
    assert snap.reconciled
    assert_exact(repo, snap.tree)
    os.unlink(state_dir / "index")
    os.unlink(state_dir / "state.json")
    assert_exact(repo, take_snapshot(worktree, ["train.py"]).tree)
