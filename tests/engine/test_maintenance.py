"""autocommit packs the loose objects its snapshots write: the daemon in its idle time,
else the run, hook or snapshot that crosses the bound, in the background. Never while
the user's git runs, never taking index.lock, and fsck stays clean."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

import autocommit
from autocommit.daemon import client
from autocommit.engine import maintenance
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import object_store
from autocommit.gitio.repo import Worktree, find_worktree
from autocommit.hooks import run as hook_entry
from tests.support.cli import run_cli
from tests.support.daemon import enable, wait_for, wait_for_exact_snapshot
from tests.support.git import assert_fsck_clean, git, user_state


def _loose(root: Path) -> int:
    return object_store.loose_count(root / ".git" / "objects")


def _new_files(root: Path, batch: int, count: int) -> None:
    """``count`` new files of distinct content in a few directories: one loose blob each."""
    for i in range(count):
        path = root / f"data{batch}" / f"part{i % 7}" / f"file{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"batch = {batch}\nindex = {i}\n" + "# padding\n" * (i % 13))


class _IndexLockSeen(FileSystemEventHandler):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_created(self, event: FileSystemEvent) -> None:
        if str(event.src_path).endswith("/.git/index.lock"):
            self.seen.append(event.event_type)


@pytest.fixture
def index_lock_watch(repo: Path) -> Iterator[_IndexLockSeen]:
    """Every appearance of the user's ``.git/index.lock`` while the test runs."""
    seen = _IndexLockSeen()
    observer = Observer()
    observer.schedule(seen, str(repo / ".git"), recursive=False)
    observer.start()
    yield seen
    observer.stop()
    observer.join()


def test_the_daemon_packs_its_loose_objects_when_idle_not_while_git_runs(
    daemon: Worktree, index_lock_watch: _IndexLockSeen
) -> None:
    root = daemon.root
    before = user_state(root)
    lock = root / ".git" / "index.lock"
    lock.touch()  # the user's git command runs: the daemon snapshots, but does not pack
    for batch in range(5):  # many snapshots, well past the bound together
        _new_files(root, batch, 400)
        wait_for_exact_snapshot(root)
    assert _loose(root) > maintenance.LOOSE_LIMIT
    time.sleep(maintenance.IDLE_SECONDS + 3)
    assert _loose(root) > maintenance.LOOSE_LIMIT, "packed while git held index.lock"
    time.sleep(0.5)  # the watch has reported the test's own lock
    index_lock_watch.seen.clear()
    lock.unlink()

    wait_for(lambda: _loose(root) < maintenance.LOOSE_LIMIT // 10, timeout=60,
             what="the loose objects to be packed")  # fmt: skip

    def reported() -> dict[str, Any] | None:
        found: dict[str, Any] = client.status(daemon)["maintenance"]
        return found if found["last_packing"] else None

    status = wait_for(reported, what="the daemon to report its packing")
    assert status["last_packing"]["loose_before"] > maintenance.LOOSE_LIMIT
    assert status["last_error"] is None
    assert index_lock_watch.seen == []
    assert_fsck_clean(root)
    after = user_state(root)
    assert after.git_state == before.git_state
    (root / "train.py").write_text("lr = 0.2\n")  # snapshots go on from packed objects
    wait_for_exact_snapshot(root)


@pytest.mark.parametrize("how", ["snapshot command", "run", "hook"])
def test_without_a_daemon_the_snapshot_that_crosses_the_bound_packs_in_the_background(
    repo: Path, how: str, index_lock_watch: _IndexLockSeen, monkeypatch: pytest.MonkeyPatch
) -> None:
    worktree = enable(repo)
    git(repo, "config", "autocommit.autostart", "false")
    _new_files(repo, 0, 600)
    take_snapshot(worktree)
    assert _loose(repo) < maintenance.LOOSE_LIMIT * 1.2
    assert not (repo / ".git" / "autocommit" / maintenance.STARTED).exists()
    _new_files(repo, 1, 1000)  # this snapshot crosses the bound
    if how == "run":
        tags = autocommit.mlflow_tags(repo)
        assert "autocommit.error" not in tags, tags
    elif how == "hook":  # after a commit of the user's, with neither daemon nor autostart
        monkeypatch.chdir(repo)
        done = hook_entry.run("post-commit", environ={})
        assert done.endswith("(packing loose objects)"), done
    else:
        assert run_cli(repo, "snapshot").returncode == 0
    assert (repo / ".git" / "autocommit" / maintenance.STARTED).exists()

    wait_for(lambda: _loose(repo) < maintenance.LOOSE_LIMIT // 10, timeout=60,
             what="the loose objects to be packed")  # fmt: skip

    assert index_lock_watch.seen == []
    log = repo / ".git" / "autocommit" / maintenance.LOG
    wait_for(lambda: "packed" in log.read_text(), what="the background run to report")
    assert "rror" not in log.read_text(), log.read_text()
    assert_fsck_clean(repo)  # once the repack is done: its prune-packed deletes as fsck reads


def test_maintain_waits_for_the_users_git(repo: Path) -> None:
    worktree = find_worktree(repo)
    _new_files(repo, 0, 1800)
    take_snapshot(worktree)
    lock = repo / ".git" / "index.lock"
    lock.touch()
    threading.Timer(2.0, lock.unlink).start()
    started = time.monotonic()

    done = run_cli(repo, "maintain", "--if-needed")

    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 2.0
    assert "packed" in done.stdout and _loose(repo) < 100
    assert run_cli(repo, "maintain", "--if-needed").stdout.strip() == "nothing done"
    assert_fsck_clean(repo)


def test_packing_keeps_the_multi_pack_index_and_its_bitmap(repo: Path) -> None:
    worktree = find_worktree(repo)
    git(repo, "repack", "-adq", "--write-midx", "--write-bitmap-index")
    _new_files(repo, 0, 300)
    snap = take_snapshot(worktree)

    packed = maintenance.pack_loose_objects(worktree)

    assert packed is not None and packed.loose_after == 0
    indexes = object_store.present(repo / ".git" / "objects")
    assert indexes.midx and indexes.midx_bitmap
    git(repo, "multi-pack-index", "verify")
    git(repo, "rev-list", "--test-bitmap", snap.commit)
    assert_fsck_clean(repo)


def test_packing_beside_a_busy_git_loses_nothing(repo: Path) -> None:
    """The claim behind packing while git may run: it deletes only what it has copied.
    A script commits new and re-used content in a loop while packings run back to back."""
    worktree = find_worktree(repo)
    script = (
        "set -e\n"
        "for i in $(seq 1 30); do\n"
        '  echo "v$i" > "f$((i % 7)).txt"; echo shared > "same$i.txt"\n'
        # git's own race with any packing (git gc too): prune-packed removes an empty
        # objects/xx/ the moment git made it for a new object; git fails, loses nothing
        "  for try in 1 2 3; do git add -A && break; sleep 0.1; done\n"
        '  for try in 1 2 3; do git -c gc.auto=0 commit -q -m "c$i" && break; sleep 0.1; done\n'
        "done\n"
    )
    writer = subprocess.Popen(["sh", "-c", script], cwd=repo)
    packings = 0
    while writer.poll() is None:
        packings += maintenance.pack_loose_objects(worktree) is not None
    assert writer.wait() == 0
    assert packings >= 3
    assert git(repo, "rev-list", "--count", "HEAD").strip() == "31"
    assert_fsck_clean(repo)
