"""``autocommit push``: share run code (pins, optionally shadow branches) with a remote."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from autocommit import contract
from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json, print_table

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


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
    arguments.add_json(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return push(
        find_worktree(),
        args.remote,
        shadow=args.shadow,
        pins=args.pin,
        force=args.force,
        as_json=args.json,
        quiet=args.quiet,
    )


def push(
    worktree: Worktree,
    remote: str | None,
    *,
    shadow: bool,
    pins: list[str] | None,
    force: bool,
    as_json: bool,
    quiet: bool,
) -> int:
    from autocommit.errors import AutocommitError
    from autocommit.reproduce import share
    from autocommit.reproduce.resolve import rev_commit
    from autocommit.settings import config

    remote = share.remote_for(worktree, remote, config.load(worktree.root).remote)
    pins = None if pins is None else [rev_commit(worktree, p) or p for p in pins]
    updates = share.push(worktree, remote, shadow=shadow, pins=pins, force=force)
    if as_json:
        print_json([dataclasses.asdict(u) for u in updates])
    elif not quiet:
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
