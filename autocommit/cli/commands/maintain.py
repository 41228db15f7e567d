"""``autocommit maintain``: pack the loose objects snapshots wrote."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


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
    arguments.add_json(parser, "what was done as JSON")


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return maintain(find_worktree(), if_needed=args.if_needed, as_json=args.json)


def maintain(worktree: Worktree, *, if_needed: bool, as_json: bool) -> int:
    from autocommit.engine import maintenance

    if if_needed:
        packed = maintenance.run_if_needed(worktree)
    else:
        packed = maintenance.pack_loose_objects(worktree)
    if as_json:
        print_json(None if packed is None else packed._asdict())
    elif packed is None:
        print("nothing done" if if_needed else "another maintenance is running")
    else:
        print(f"packed {packed.loose_before - packed.loose_after} loose objects in "
              f"{packed.seconds:.2f} s; {packed.loose_after} loose objects left, "
              f"{packed.packs_after} packs")  # fmt: skip
    return 0
