"""``autocommit maintain``: pack the loose objects snapshots wrote."""

from __future__ import annotations

import argparse

from autocommit.cli.output import print_json

HELP = (
    "pack the loose objects snapshots wrote (the daemon does it by itself when idle); "
    "deletes no unreachable object"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--if-needed",
        action="store_true",
        help="only past the bound, once no git command of yours runs here (waits up to 60 s); "
        "what hooks and runs start in the background without a daemon",
    )
    parser.add_argument("--json", action="store_true", help="print what was done as JSON")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from autocommit.engine import maintenance
    from autocommit.gitio.repo import find_worktree

    worktree = find_worktree()
    if args.if_needed:
        packed = maintenance.run_if_needed(worktree)
    else:
        packed = maintenance.pack_loose_objects(worktree)
    if args.json:
        print_json(None if packed is None else dataclasses.asdict(packed))
    elif packed is None:
        print("nothing done" if args.if_needed else "another maintenance is running")
    else:
        print(f"packed {packed.loose_before - packed.loose_after} loose objects in "
              f"{packed.seconds:.2f} s; {packed.loose_after} loose objects left, "
              f"{packed.packs_after} packs")  # fmt: skip
    return 0
