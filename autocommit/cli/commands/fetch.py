"""``autocommit fetch``: get the run code teammates pushed."""

from __future__ import annotations

import argparse
import dataclasses

from autocommit.cli.output import print_json, print_table

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
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree
    from autocommit.reproduce import share
    from autocommit.settings import config

    worktree = find_worktree()
    remote = share.remote_for(worktree, args.remote, config.load(worktree.root).remote)
    updates = share.fetch(worktree, remote, shadow=args.shadow)
    if args.json:
        print_json([dataclasses.asdict(u) for u in updates])
    elif updates:
        print_table(["ref", "status", "detail"], [(u.ref, u.status, u.detail) for u in updates])
    else:
        print(f"up to date with {remote}")
    return 0
