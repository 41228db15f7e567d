"""``autocommit disable``: one command back to a repository without autocommit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from autocommit.daemon import client
from autocommit.gitio.repo import find_worktree
from tests.support.cli import run_cli
from tests.support.daemon import rev
from tests.support.git import git

USER_HOOK = '#!/bin/sh\necho mine >> "$(git rev-parse --git-dir)/mine.log"\n'


def test_disable_stops_unhooks_and_keeps_the_history(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "post-commit").write_text(USER_HOOK)
    (hooks / "post-commit").chmod(0o755)
    os.utime(hooks / "post-commit", (1_000_000_000, 1_000_000_000))
    (repo / "notes.md").write_text("work in progress\n")
    done = run_cli(repo, "init")
    assert done.returncode == 0, done.stderr
    worktree = find_worktree(repo)
    assert client.is_running(worktree)
    assert "autocommit-managed-hook" in (hooks / "post-checkout").read_text()
    pinned = run_cli(repo, "snapshot", "--pin")
    assert pinned.returncode == 0, pinned.stderr

    done = run_cli(repo, "disable")
    assert done.returncode == 0, done.stderr
    assert "daemon stopped" in done.stderr and "snapshots and pins are kept" in done.stderr
    assert not client.is_running(worktree)
    assert (hooks / "post-commit").read_text() == USER_HOOK  # yours, back in place
    assert (hooks / "post-commit").stat().st_mtime == 1_000_000_000
    assert not (hooks / "post-checkout").exists() and not list(hooks.glob("*.autocommit-orig"))
    assert git(repo, "config", "--local", "--get-all", "autocommit.enabled", check=False) == ""
    kept = git(repo, "for-each-ref", "refs/autocommit/")
    assert rev(repo, "autocommit/heads/main") and "refs/autocommit/pins/" in kept

    (repo / "train.py").write_text("lr = 9\n")
    git(repo, "commit", "-qam", "after disable")  # your hook runs; autocommit does nothing
    assert (repo / ".git" / "mine.log").read_text() == "mine\n"
    assert git(repo, "for-each-ref", "refs/autocommit/") == kept
    status = run_cli(repo, "status")
    assert status.returncode == 3, status.stdout + status.stderr

    done = run_cli(repo, "disable", "--purge")
    assert done.returncode == 0, done.stderr
    assert "no daemon was running" in done.stderr
    assert git(repo, "for-each-ref", "refs/autocommit/") == ""
    assert not worktree.state_dir.exists()
    assert subprocess.run(["git", "fsck", "--no-progress"], cwd=repo).returncode == 0
