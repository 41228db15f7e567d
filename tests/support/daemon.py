"""Helpers for the daemon tests: real daemon processes, waiting for them to settle."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from autocommit.daemon import client
from autocommit.daemon.control import DaemonFiles
from autocommit.errors import AutocommitError
from autocommit.gitio.repo import Worktree, find_worktree
from tests.support.git import git
from tests.support.oracle import expected_tree

T = TypeVar("T")


def rev(root: Path, name: str) -> str | None:
    proc = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", name], cwd=root, capture_output=True, text=True
    )
    return proc.stdout.strip() or None


def wait_for(check: Callable[[], T | None], timeout: float = 60.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(0.05)


def wait_for_exact_snapshot(root: Path, ref: str = "autocommit/heads/main") -> str:
    """Wait until the shadow ref's tree is exactly the working tree; return the commit."""
    want = expected_tree(root)

    def done() -> str | None:
        commit = rev(root, ref)
        return commit if commit and rev(root, commit + "^{tree}") == want else None

    return wait_for(done, what=f"{ref} to hold tree {want}")


def wait_until_settled(worktree: Worktree) -> None:
    """Wait until the daemon has snapshotted every change it saw."""

    def settled() -> bool:
        info = client.status(worktree)
        return not (
            info["pending_changes"] or info["full_scan_pending"] or info["state"] != "watching"
        )

    wait_for(settled, what="the daemon to settle")


def enable(root: Path) -> Worktree:
    git(root, "config", "autocommit.enabled", "true")
    return find_worktree(root)


def stop_for_sure(worktree: Worktree) -> None:
    """Stop the daemon; kill it if it does not stop (tests never leave one behind)."""
    files = DaemonFiles.of(worktree)
    with contextlib.suppress(AutocommitError):
        client.stop(worktree, timeout=20)
    pid = files.read_pid()
    if files.lock_is_held() and pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not files.lock_is_held(), what="the killed daemon to release its lock")


def shadow_commits(root: Path, ref: str = "autocommit/heads/main") -> list[str]:
    """The snapshot commits of a shadow branch (first-parent chain), newest first."""
    out = git(root, "rev-list", "--first-parent", ref, check=False)
    return out.split()
