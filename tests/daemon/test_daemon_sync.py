"""The sync barrier, bursts and overflows, and the fallback when inotify runs out."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from autocommit.daemon import client
from autocommit.daemon.control import DaemonFiles
from autocommit.engine.kept_processes import OBJECTS_AHEAD
from autocommit.gitio.loose_objects import AHEAD
from autocommit.gitio.repo import Worktree, find_worktree
from tests.support.daemon import (
    enable,
    stop_for_sure,
    wait_for,
    wait_for_exact_snapshot,
    wait_until_settled,
)
from tests.support.git import assert_fsck_clean, git, new_repository, user_state
from tests.support.oracle import expected_tree


def _blobs(root: Path, specs: list[str]) -> list[bytes | None]:
    """``<commit>:<path>`` contents in one ``git cat-file --batch`` (None: missing)."""
    proc = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=root,
        check=True,
        input="".join(s + "\n" for s in specs).encode(),
        capture_output=True,
    )
    data, pos = proc.stdout, 0
    found: list[bytes | None] = []
    for _ in specs:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if header[-1] == b"missing":
            found.append(None)
            continue
        size = int(header[2])
        found.append(data[pos : pos + size])
        pos += size + 1
    return found


def test_zero_pause_sync_sees_every_write(daemon: Worktree) -> None:
    """Write, then sync at once, 300 times: each returned commit holds that write."""
    root = daemon.root
    checks: list[tuple[str, bytes | None]] = []
    for i in range(300):
        kind = i % 6
        if kind == 0:
            path, content = "train.py", f"lr = {i}\n".encode()
            (root / path).write_bytes(content)
        elif kind == 1:  # new files in new directories, three levels deep
            for name in ("a", "b"):
                (root / f"runs/{name}{i}/cfg").mkdir(parents=True)
                (root / f"runs/{name}{i}/cfg/params.yaml").write_bytes(f"seed: {i}\n".encode())
            path, content = f"runs/b{i}/cfg/params.yaml", f"seed: {i}\n".encode()
        elif kind == 2:  # an atomic save
            path, content = "model.py", f"layers = {i}\n".encode()
            (root / ".model.py.swp").write_bytes(content)
            os.replace(root / ".model.py.swp", root / path)
        elif kind == 3:  # a deletion
            path, content = f"runs/a{i - 2}/cfg/params.yaml", None
            os.unlink(root / path)
        elif kind == 4:  # a directory renamed
            path, content = f"moved/b{i - 3}/cfg/params.yaml", f"seed: {i - 3}\n".encode()
            (root / "moved").mkdir(exist_ok=True)
            os.rename(root / f"runs/b{i - 3}", root / f"moved/b{i - 3}")
        else:  # an append to a file in a deep, old directory
            path = "runs/log/notes.txt"
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            with open(root / path, "ab") as f:
                f.write(f"{i}\n".encode())
            content = (root / path).read_bytes()
        snap = client.sync(daemon, timeout=30)
        assert snap is not None, f"no sync answer at step {i}"
        checks.append((f"{snap.commit}:{path}", content))
    got = _blobs(root, [spec for spec, _ in checks])
    wrong = [spec for (spec, want), have in zip(checks, got, strict=True) if have != want]
    assert wrong == []
    final = client.sync(daemon)
    assert final is not None and final.tree == expected_tree(root)


def test_concurrent_syncs_from_several_processes(daemon: Worktree) -> None:
    """Parallel runs of a sweep: each sync includes its own process's write."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from autocommit.daemon import client\n"
        "from autocommit.gitio.repo import find_worktree\n"
        "worktree = find_worktree(sys.argv[1])\n"
        "for i in range(40):\n"
        "    path = Path(sys.argv[1], f'worker{sys.argv[2]}.txt')\n"
        "    path.write_text(f'{i}\\n')\n"
        "    snap = client.sync(worktree, timeout=30)\n"
        "    print(snap.commit if snap else 'none', flush=True)\n"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(daemon.root), str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for n, worker in enumerate(workers):
        out, _ = worker.communicate(timeout=120)
        commits = out.split()
        assert len(commits) == 40 and "none" not in commits
        got = _blobs(daemon.root, [f"{c}:worker{n}.txt" for c in commits])
        assert got == [f"{i}\n".encode() for i in range(40)]


def test_sync_without_changes_returns_the_last_snapshot(daemon: Worktree) -> None:
    (daemon.root / "train.py").write_text("lr = 9\n")
    first = client.sync(daemon)
    second = client.sync(daemon)
    assert first is not None and second is not None and first.commit == second.commit


def test_sync_when_no_daemon_runs(repo: Path) -> None:
    worktree = enable(repo)
    assert client.sync(worktree) is None
    assert client.notify(worktree, "post-commit") is False
    assert client.is_running(worktree) is False


@pytest.fixture
def daemon_in_memory(tmp_path: Path) -> Iterator[Worktree]:
    """A daemon on a repository in tmpfs when there is one (creating 50k files on a
    loaded virtual disk takes half a minute; inotify behaves the same on both)."""
    shm = Path("/dev/shm")
    base = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else None
    root = (base or tmp_path) / "repo"
    new_repository(root, {"train.py": "lr = 0.1\n"})
    worktree = enable(root)
    client.start(worktree)
    try:
        yield worktree
    finally:
        stop_for_sure(worktree)
        if base is not None:
            shutil.rmtree(base)


def test_burst_of_50k_files_in_a_generated_dir(daemon_in_memory: Worktree) -> None:
    """The daemon survives, memory stays bounded, few snapshots, the last one exact."""
    daemon = daemon_in_memory
    root = daemon.root
    process = psutil.Process(client.status(daemon)["pid"])
    rss_before = process.memory_info().rss
    start_tip = git(root, "rev-parse", "HEAD").strip()
    generated = root / "generated"
    began = time.monotonic()
    for d in range(50):
        folder = generated / f"shard{d:02d}"
        folder.mkdir(parents=True)
        for i in range(1000):
            (folder / f"sample{i:04d}.txt").write_bytes(b"%d\n" % i)
    burst = time.monotonic() - began
    # The status is no barrier (events may still sit in the kernel's queue): wait for the
    # daemon's own snapshots to reach the exact tree.
    wait_for_exact_snapshot(root)
    wait_until_settled(daemon)
    snapshots = int(git(root, "rev-list", "--count", f"{start_tip}..autocommit/heads/main"))
    assert 1 <= snapshots <= 3 + burst / 2.0  # max_wait = 2s: a snapshot per 2s of burst at most
    rss_after = process.memory_info().rss
    assert rss_after - rss_before < 150 * 1024**2, f"RSS grew {rss_after - rss_before} bytes"


def test_queue_overflow_is_caught_and_reconciled(daemon: Worktree) -> None:
    """A stopped daemon misses events (the kernel queue overflows): it rescans."""
    root = daemon.root
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    pid = client.status(daemon)["pid"]
    folder = root / "data"
    folder.mkdir()
    assert client.sync(daemon) is not None  # the daemon watches data/ now
    os.kill(pid, signal.SIGSTOP)
    try:
        for i in range(limit + 500):
            (folder / f"{i}.csv").write_bytes(b"x\n")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for_exact_snapshot(root)
    log = DaemonFiles.of(daemon).log.read_text()
    assert "inotify queue overflowed" in log, log


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-U", "-r", "sh", "-c", "echo 3 > /proc/sys/user/max_inotify_watches"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _unshare_works(), reason="needs user namespaces (unshare -U)")
def test_out_of_inotify_watches_falls_back_to_scanning(repo: Path) -> None:
    """In a user namespace allowed 3 watches, the daemon polls and stays exact."""
    for d in range(5):
        (repo / f"pkg{d}").mkdir()
        (repo / f"pkg{d}" / "mod.py").write_text("x = 1\n")
    worktree = enable(repo)
    script = (
        "echo 3 > /proc/sys/user/max_inotify_watches && "
        f'exec "{sys.executable}" -m autocommit run --foreground'
    )
    proc = subprocess.Popen(
        ["unshare", "-U", "-r", "sh", "-c", script],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: client.is_running(worktree), what="the daemon to get ready")
        info = client.status(worktree)
        assert info["watch_mode"] == "polling"
        assert "max_user_watches" in info["watch_problem"]
        (repo / "pkg4" / "mod.py").write_text("x = 2\n")
        snap = client.sync(worktree, timeout=30)
        assert snap is not None and snap.tree == expected_tree(repo)
        (repo / "pkg3" / "new.py").write_text("y = 1\n")
        wait_for_exact_snapshot(repo)  # the periodic scan finds it without a sync
        assert "scanning the tree every" in DaemonFiles.of(worktree).log.read_text()
    finally:
        stop_for_sure(worktree)
        proc.wait(timeout=30)


def test_linked_worktree(repo: Path, tmp_path: Path) -> None:
    """A linked worktree's git dir lies outside it: HEAD, index and cookies still seen."""
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(linked))
    git(repo, "config", "autocommit.enabled", "true")
    worktree = find_worktree(linked)
    assert worktree.linked_id is not None
    client.start(worktree)
    try:
        for i in range(30):
            (linked / "train.py").write_text(f"lr = {i}\n")
            snap = client.sync(worktree)
            assert snap is not None and snap.shadow_ref == "refs/autocommit/heads/feature"
            assert git(linked, "show", f"{snap.commit}:train.py") == f"lr = {i}\n"
        git(linked, "commit", "-q", "-am", "tune")
        git(linked, "checkout", "-q", "-b", "other")
        (linked / "train.py").write_text("lr = 99\n")
        commit = wait_for_exact_snapshot(linked, "autocommit/heads/other")
        git(linked, "merge-base", "--is-ancestor", "HEAD", commit)
    finally:
        stop_for_sure(worktree)
    assert not DaemonFiles.of(find_worktree(repo)).lock.exists()


def test_a_sync_s_cookie_is_made_ahead_and_made_anew_when_missing(daemon: Worktree) -> None:
    """The next sync's cookie waits, made ahead, to be renamed to the sync's token (on
    some file systems making a file costs far more); gone, a cookie is made anew."""
    root, cookies = daemon.root, DaemonFiles.of(daemon).cookies
    (root / "train.py").write_text("lr = 0.1\n")
    assert client.sync(daemon) is not None
    wait_for(lambda: os.listdir(cookies) == ["next"], timeout=10, what="the spare cookie")
    for attempt in range(2):
        (cookies / "next").unlink()
        (root / "train.py").write_text(f"lr = {attempt}.5\n")
        snap = client.sync(daemon, timeout=10)
        assert snap is not None and snap.tree == expected_tree(root)
        wait_for(lambda: os.listdir(cookies) == ["next"], timeout=10, what="the spare cookie")


def test_a_run_s_objects_are_written_through_files_the_daemon_made_ahead(
    daemon: Worktree,
) -> None:
    """The trees and commits of a run's snapshot are the files the daemon made while it
    waited (inode for inode): exact, git's own, and nothing of the user's touched; the
    daemon removes the files it did not use when it stops."""
    root, ahead = daemon.root, daemon.state_dir / OBJECTS_AHEAD
    (root / "train.py").write_text("lr = 0.1\n")
    assert client.sync(daemon) is not None
    wait_for(lambda: len(os.listdir(ahead)) == AHEAD, timeout=10, what="the files made ahead")
    made = {entry.stat().st_ino for entry in os.scandir(ahead)}
    (root / "models").mkdir()
    (root / "models" / "net.py").write_text("layers = 3\n")
    before = user_state(root).git_state
    synced = client.sync_for_run(daemon, timeout=10)
    assert synced is not None
    snap, run = synced
    assert run is not None and snap.tree == expected_tree(root)
    objects = root / ".git" / "objects"
    for sha in (snap.tree, git(root, "rev-parse", f"{snap.tree}:models").strip(), snap.commit,
                run.commit):  # fmt: skip
        assert (objects / sha[:2] / sha[2:]).stat().st_ino in made, sha
    assert user_state(root).git_state == before
    assert_fsck_clean(root)
    client.stop(daemon)
    assert os.listdir(ahead) == []
