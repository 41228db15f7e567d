"""``autocommit snapshot``: snapshot the working tree now and print the commit."""

from __future__ import annotations

import argparse

from autocommit.output import note, print_json

HELP = "snapshot the working tree now onto its shadow branch and print the commit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    parser.add_argument("--pin", action="store_true", help="also pin it (refs/autocommit/pins/)")


def run(args: argparse.Namespace) -> int:
    from autocommit import refs
    from autocommit.repo import find_worktree
    from autocommit.snapshot import take_snapshot

    worktree = find_worktree()
    snap = take_snapshot(worktree)
    if args.pin:
        refs.pin(worktree.root, snap.commit)
    if args.json:
        print_json(snap.to_dict())
        return 0
    for skipped in snap.skipped:
        note(f"left out {skipped.path} ({skipped.reason})")
    note(f"{snap.summary} → {snap.shadow_ref}" if snap.dirty else snap.summary)
    print(snap.commit)
    return 0
