"""``autocommit fetch``: get the run code teammates pushed."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json, print_table

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = "fetch pinned run code from a remote (shadow branches as refs/autocommit/remotes/*)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "remote", nargs="?", help="a remote name or URL (default: the remote setting, origin)"
    )
    parser.add_argument(
        "--shadow",
        action="store_true",
        help="also fetch shadow branches, into refs/autocommit/remotes/<remote>/",
    )
    arguments.add_json(parser)


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return fetch(find_worktree(), args.remote, shadow=args.shadow, as_json=args.json)


def fetch(worktree: Worktree, remote: str | None, *, shadow: bool, as_json: bool) -> int:
    from autocommit.reproduce import share
    from autocommit.settings import config

    remote = share.remote_for(worktree, remote, config.load(worktree.root).remote)
    updates = share.fetch(worktree, remote, shadow=shadow)
    if as_json:
        print_json([dataclasses.asdict(u) for u in updates])
    elif updates:
        print_table(["ref", "status", "detail"], [(u.ref, u.status, u.detail) for u in updates])
    else:
        print(f"up to date with {remote}")
    return 0
