"""``autocommit snapshot``: snapshot the working tree now and print the commit."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json
from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = "snapshot the working tree now onto its shadow branch and print the commit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_json(parser, "the snapshot as JSON")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="keep this code alive like a run's: print and pin its run commit (the snapshot's "
        "tree on HEAD alone, refs/autocommit/pins/<sha>), which prune never removes",
    )


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return snapshot(find_worktree(), pin=args.pin, as_json=args.json)


def snapshot(worktree: Worktree, *, pin: bool, as_json: bool) -> int:
    from autocommit.engine import maintenance
    from autocommit.engine.run_commit import run_commit
    from autocommit.engine.snapshot import take_snapshot
    from autocommit.gitio import refs

    snap = take_snapshot(worktree)
    maintenance.start_in_background(worktree)  # past the bound of loose objects
    commit = snap.commit
    if pin:
        # Pinning the chain snapshot would keep every earlier snapshot alive too.
        commit = run_commit(worktree, snap)
        refs.pin(worktree.root, commit)
    if as_json:
        print_json(snap.to_dict() | ({"pinned": commit} if pin else {}))
        return 0
    for skipped in snap.skipped:
        note(f"left out {skipped.path} ({skipped.reason})")
    note(f"{snap.summary} → {snap.shadow_ref}" if snap.dirty else snap.summary)
    print(commit)
    return 0
