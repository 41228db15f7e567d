"""The watch daemon as a user meets it: start/status/stop, edits become exact snapshots."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from autocommit.daemon import client
from autocommit.daemon.control import DaemonFiles
from autocommit.gitio.repo import Worktree
from tests.support.cli import run_cli
from tests.support.daemon import enable, rev, stop_for_sure, wait_for, wait_for_exact_snapshot
from tests.support.git import git, user_state
from tests.support.oracle import expected_tree


def test_start_status_stop(repo: Path) -> None:
    worktree = enable(repo)
    files = DaemonFiles.of(worktree)
    try:
        started = run_cli(repo, "start")
        assert started.returncode == 0, started.stderr
        pid = int(started.stdout)
        assert psutil.pid_exists(pid)
        again = run_cli(repo, "start")
        assert again.returncode == 0 and int(again.stdout) == pid
        assert "already watches" in again.stderr

        shown = run_cli(repo, "status", "--json")
        info = json.loads(shown.stdout)
        assert shown.returncode == 0
        assert info["running"] and info["pid"] == pid and info["watch_mode"] == "inotify"
        assert info["last_snapshot"]["commit"] == git(repo, "rev-parse", "HEAD").strip()
        assert info["pending_changes"] == 0 and info["last_error"] is None
        human = run_cli(repo, "status").stdout
        assert f"running (pid {pid}" in human and "watching: inotify" in human

        assert stat.S_IMODE(os.stat(files.socket).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(files.dir).st_mode) == 0o700
        assert files.read_pid() == pid and files.lock_is_held()
    finally:
        stopped = run_cli(repo, "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stderr

    def exited() -> bool:
        try:
            return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        except psutil.NoSuchProcess:
            return True

    wait_for(exited, what="the daemon process to exit")
    assert not files.lock_is_held() and not files.socket.exists() and not files.pid.exists()
    after = run_cli(repo, "status")
    assert after.returncode == 3 and "not running" in after.stdout
    assert run_cli(repo, "stop").stderr.strip() == "autocommit: no daemon was running"


def test_clear_errors(tmp_path: Path, repo: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for args in (("start",), ("status",), ("stop",), ("run", "--foreground")):
        done = run_cli(plain, *args)
        assert done.returncode == 1
        assert done.stderr.startswith("autocommit: error: not a git repository")
        assert len(done.stderr.strip().splitlines()) == 1
    for args in (("start",), ("run", "--foreground")):
        done = run_cli(repo, *args)
        assert done.returncode == 1
        assert done.stderr.strip() == (
            f"autocommit: error: autocommit is not enabled in {repo}; run `autocommit init` first"
        )
    status = run_cli(repo, "status")
    assert status.returncode == 3 and "run `autocommit init` first" in status.stdout


def _in_place(root: Path) -> None:
    with open(root / "train.py", "a") as f:
        f.write("epochs = 3\n")


def _atomic_save(root: Path) -> None:
    temporary = root / ".train.py.tmp123"
    temporary.write_text("lr = 0.5\n")
    os.replace(temporary, root / "train.py")


def _vim_save(root: Path) -> None:
    os.rename(root / "train.py", root / "train.py~")
    (root / "train.py").write_text("lr = 0.7  # vim\n")
    os.unlink(root / "train.py~")


def _new_nested_files(root: Path) -> None:
    (root / "src" / "model" / "layers").mkdir(parents=True)
    (root / "src" / "model" / "layers" / "dense.py").write_text("units = 64\n")
    (root / "src" / "model" / "__init__.py").write_text("")


def _directory_rename(root: Path) -> None:
    (root / "pkg").mkdir()
    (root / "pkg" / "a.py").write_text("a = 1\n")
    git(root, "add", "pkg")
    git(root, "commit", "-q", "-m", "pkg")
    os.rename(root / "pkg", root / "package")


def _deletion(root: Path) -> None:
    os.unlink(root / "README.md")


def _exec_bit(root: Path) -> None:
    os.chmod(root / "train.py", 0o755)


def _symlink(root: Path) -> None:
    os.symlink("train.py", root / "main.py")


EDITS: dict[str, Callable[[Path], None]] = {
    "in-place write": _in_place,
    "atomic save": _atomic_save,
    "vim-style save": _vim_save,
    "new nested directories": _new_nested_files,
    "directory rename": _directory_rename,
    "deletion": _deletion,
    "exec bit": _exec_bit,
    "symlink": _symlink,
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_edit_becomes_an_exact_snapshot(daemon: Worktree, edit: str) -> None:
    root = daemon.root
    before = rev(root, "autocommit/heads/main")
    EDITS[edit](root)
    state = user_state(root)
    commit = wait_for_exact_snapshot(root)
    assert commit != before
    git(root, "merge-base", "--is-ancestor", "HEAD", commit)
    assert user_state(root) == state  # the daemon changed nothing of the user's
    # the snapshot came by itself; a sync now returns the same tree
    synced = client.sync(daemon)
    assert synced is not None and synced.tree == expected_tree(root)


def test_burst_of_saves_gives_few_snapshots(daemon: Worktree) -> None:
    root = daemon.root
    for i in range(40):
        (root / "train.py").write_text(f"lr = {i}\n")
    commit = wait_for_exact_snapshot(root)
    made = git(root, "rev-list", "--count", f"HEAD..{commit}").strip()
    assert 1 <= int(made) <= 3


def test_ignored_paths_never_trigger_snapshots(daemon: Worktree) -> None:
    root = daemon.root
    (root / ".gitignore").write_text("logs/\n*.tmp\n")
    first = wait_for_exact_snapshot(root)
    (root / "logs").mkdir()
    for i in range(200):
        (root / "logs" / f"{i}.log").write_text("x\n")
        (root / f"scratch{i}.tmp").write_text("x\n")
    wait_for(lambda: client.status(daemon)["pending_changes"] == 0, what="the batch to pass")
    info = client.status(daemon)
    assert info["last_snapshot"]["commit"] == first
    assert rev(root, "autocommit/heads/main") == first


def test_idle_daemon_uses_no_cpu_and_ignores_its_own_writes(daemon: Worktree) -> None:
    root = daemon.root
    (root / "train.py").write_text("lr = 0.2\n")
    wait_for_exact_snapshot(root)
    pid = client.status(daemon)["pid"]
    created = client.status(daemon)["snapshots_created"]
    process = psutil.Process(pid)
    before = process.cpu_times()
    time.sleep(2.0)
    after = process.cpu_times()
    used = (after.user + after.system) - (before.user + before.system)
    assert used < 0.05, f"an idle daemon used {used:.3f}s of CPU in 2s"
    assert client.status(daemon)["snapshots_created"] == created


def test_kill_9_then_start_recovers(daemon: Worktree) -> None:
    root = daemon.root
    files = DaemonFiles.of(daemon)
    pid = client.status(daemon)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not files.lock_is_held(), what="the kernel to drop the lock")
    info = client.status(daemon)
    assert not info["running"] and info["stale_pid"] == pid
    assert "not running (pid" in run_cli(root, "status").stdout
    assert files.socket.exists()  # left behind by the kill…

    new_pid = client.start(daemon)  # …and recovered by the next start
    assert new_pid != pid and client.status(daemon)["pid"] == new_pid
    (root / "train.py").write_text("lr = 0.3\n")
    snap = client.sync(daemon)
    assert snap is not None and snap.tree == expected_tree(root)
    git_locks = [p for p in (root / ".git").glob("**/*.lock") if files.dir not in p.parents]
    assert git_locks == []  # (the daemon's own flock files are not locks while unheld)
    assert git(root, "fsck", "--no-progress").strip() == ""


def test_sigterm_exits_cleanly(daemon: Worktree) -> None:
    files = DaemonFiles.of(daemon)
    pid = client.status(daemon)["pid"]
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not files.lock_is_held(), what="the daemon to exit")
    assert not files.socket.exists() and not files.pid.exists()
    assert "stopped" in files.log.read_text().splitlines()[-1]


def test_init_starts_the_daemon_unless_told_not_to(repo: Path, tmp_path: Path) -> None:
    worktree = enable(repo)
    try:
        done = run_cli(repo, "init")
        assert done.returncode == 0, done.stderr
        assert "watch daemon running" in done.stderr and client.is_running(worktree)
    finally:
        stop_for_sure(worktree)
    done = run_cli(repo, "init", "--no-daemon")
    assert done.returncode == 0 and not client.is_running(worktree)
    git(repo, "config", "autocommit.daemon", "false")
    done = run_cli(repo, "init")
    assert done.returncode == 0 and not client.is_running(worktree)


def test_systemd_unit(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    enable(repo)
    shown = run_cli(repo, "systemd-unit")
    assert shown.returncode == 0
    assert "Type=notify" in shown.stdout
    assert f'"-C" "{repo}" "run" "--foreground"' in shown.stdout
    env_home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env_home))
    installed = run_cli(repo, "systemd-unit", "--install")
    path = Path(installed.stdout.strip())
    assert path.parent == env_home / "systemd" / "user"
    assert path.read_text() == shown.stdout


def test_disabling_autocommit_stops_the_daemon(daemon: Worktree) -> None:
    files = DaemonFiles.of(daemon)
    git(daemon.root, "config", "autocommit.enabled", "false")
    wait_for(lambda: not files.lock_is_held(), what="the daemon to notice and exit")
    assert "disabled in this repository; stopping" in files.log.read_text()


def test_foreground_daemon_tells_systemd_when_ready(repo: Path, tmp_path: Path) -> None:
    """`run --foreground` under a `Type=notify` unit: READY=1 once reconciled."""
    worktree = enable(repo)
    address = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(address))
        listener.settimeout(60)
        env = {**os.environ, "NOTIFY_SOCKET": str(address)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "autocommit", "run", "--foreground"],
            cwd=repo,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            message = listener.recv(1024).decode()
            assert message == f"READY=1\nMAINPID={proc.pid}"
            assert client.is_running(worktree)
            proc.send_signal(signal.SIGTERM)
            assert listener.recv(1024) == b"STOPPING=1"
            assert proc.wait(timeout=30) == 0
        finally:
            stop_for_sure(worktree)
            if proc.poll() is None:
                proc.kill()


def test_a_failing_snapshot_is_reported_and_retried(daemon: Worktree) -> None:
    root = daemon.root
    (root / "train.py").write_text("lr = 0.6\n")
    assert client.sync(daemon) is not None
    # a ref in the way of the shadow branch: git cannot update it
    git(root, "update-ref", "-d", "refs/autocommit/heads/main")
    git(root, "update-ref", "refs/autocommit/heads/main/blocker", "HEAD")
    (root / "train.py").write_text("lr = 0.7\n")
    assert client.sync(daemon) is None  # the caller falls back to its own snapshot
    info = client.status(daemon)
    assert info["running"] and "autocommit/heads/main" in info["last_error"]
    assert "last error" in run_cli(root, "status").stdout

    git(root, "update-ref", "-d", "refs/autocommit/heads/main/blocker")
    wait_for_exact_snapshot(root)  # retried by itself
    assert client.sync(daemon) is not None


def test_a_half_edited_pyproject_does_not_stop_the_snapshots(daemon: Worktree) -> None:
    root = daemon.root
    (root / "pyproject.toml").write_text('[tool.autocommit]\nexclude = ["*.csv"]\n')
    (root / "data.csv").write_text("a,b\n")
    assert client.sync(daemon) is not None
    half_edited = '[tool.autocommit\nexclude = ["*.csv"\n'
    (root / "pyproject.toml").write_text(half_edited)
    (root / "train.py").write_text("lr = 0.8\n")
    snap = client.sync(daemon)
    assert snap is not None  # snapshotted with the settings last read
    assert git(root, "show", f"{snap.commit}:pyproject.toml") == half_edited
    assert git(root, "show", f"{snap.commit}:train.py") == "lr = 0.8\n"
    assert "data.csv" not in git(root, "ls-tree", "-r", "--name-only", snap.commit)
    info = wait_for(lambda: client.status(daemon) if client.status(daemon).get("last_error")
                    else None, what="the daemon to report the settings it cannot read")  # fmt: skip
    assert "settings last read" in str(info["last_error"])
