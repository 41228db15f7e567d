"""``autocommit init``: enable autocommit in this working tree."""

from __future__ import annotations

import argparse

from autocommit.output import note

HELP = "enable autocommit in this repository and take a first snapshot"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # options for hooks and the daemon are added by those features


def run(args: argparse.Namespace) -> int:
    from autocommit import git
    from autocommit.repo import find_worktree
    from autocommit.snapshot import take_snapshot

    worktree = find_worktree()
    git.run(["config", "--local", "autocommit.enabled", "true"], worktree.root)
    snap = take_snapshot(worktree)
    for skipped in snap.skipped:
        note(f"left out {skipped.path} ({skipped.reason})")
    note(f"enabled in {worktree.root}; snapshots go to {snap.shadow_ref}")
    print(snap.commit)
    return 0
