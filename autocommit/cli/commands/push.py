"""``autocommit push``: share run code (pins, optionally shadow branches) with a remote."""

from __future__ import annotations

import argparse
import dataclasses

from autocommit import contract
from autocommit.cli.output import print_json, print_table

HELP = "push pinned run code (refs/autocommit/pins/*) to a remote; never your branches or tags"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "remote", nargs="?", help="a remote name or URL (default: the remote setting, origin)"
    )
    parser.add_argument("--shadow", action="store_true", help="also push shadow branches")
    parser.add_argument(
        "--force", action="store_true", help="let shadow branches replace diverged ones"
    )
    parser.add_argument(
        "--pin", action="append", metavar="COMMIT", help="push only this pin (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")


def run(args: argparse.Namespace) -> int:
    from autocommit.errors import AutocommitError
    from autocommit.gitio.repo import find_worktree
    from autocommit.reproduce import share
    from autocommit.reproduce.resolve import rev_commit
    from autocommit.settings import config

    worktree = find_worktree()
    remote = share.remote_for(worktree, args.remote, config.load(worktree.root).remote)
    pins = None if args.pin is None else [rev_commit(worktree, p) or p for p in args.pin]
    updates = share.push(worktree, remote, shadow=args.shadow, pins=pins, force=args.force)
    if args.json:
        print_json([dataclasses.asdict(u) for u in updates])
    elif not args.quiet:
        if updates:
            print_table(["ref", "status", "detail"], [(u.ref, u.status, u.detail) for u in updates])
        else:
            print("nothing to push (no pins yet)")
    rejected = [u for u in updates if u.failed]
    if rejected:
        raise AutocommitError(
            f"{remote} rejected {len(rejected)} ref(s), "
            f"e.g. {rejected[0].ref} ({rejected[0].detail})",
            _advice(remote, rejected[0].ref),
        )
    return 0


def _advice(remote: str, ref: str) -> str:

    if ref.startswith(contract.PIN_PREFIX):  # named by its commit: it never conflicts
        return (
            f"the remote refused to store the pin; check that {remote} accepts pushes to "
            f"{contract.PIN_PREFIX}* (a server hook or a protection rule may forbid them)"
        )
    return "fetch theirs with `autocommit fetch --shadow`, or overwrite with --force"
