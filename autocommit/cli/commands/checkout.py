"""``autocommit checkout``: a new worktree with exactly a run's code."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from autocommit.cli.commands import arguments
from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = (
    "check out a run's or revision's exact code into a new worktree (yours is untouched); "
    "a run's context goes to DIR.context beside it"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_target(parser)
    parser.add_argument(
        "into",  # not "directory": that is the global -C option's
        metavar="DIR",
        nargs="?",
        help="where to put it (default: <repo>-run-<id> beside the repository); must not exist",
    )
    arguments.add_tracking_uri(parser)


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return checkout(find_worktree(), args.target, args.into, tracking_uri=args.tracking_uri)


def checkout(worktree: Worktree, target: str, into: str | None, *, tracking_uri: str | None) -> int:
    from autocommit.reproduce.context import checkout_context, context_dir, read_context
    from autocommit.reproduce.resolve import resolve
    from autocommit.reproduce.restore import checkout as check_out
    from autocommit.reproduce.restore import default_checkout_dir

    resolved = resolve(worktree, target, tracking_uri=tracking_uri)
    wanted = Path(into) if into else default_checkout_dir(worktree, resolved)
    directory = check_out(worktree, resolved.commit, wanted)
    note(f"checked out {resolved.label}, detached HEAD; "
         f"remove it with `git worktree remove {directory}`")  # fmt: skip
    print(directory)
    context = read_context(worktree, resolved)
    if context is not None and context.present:
        where = context_dir(directory)
        for missing in checkout_context(context, where):
            note(f"context: {missing}")
        note(f"the run's context (environment, session, data, dependencies) is in {where}")
    return 0
