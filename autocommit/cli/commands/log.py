"""``autocommit log``: the snapshots of the current branch's shadow branch."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
from typing import TYPE_CHECKING

from autocommit import contract
from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json, print_table

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = "list the snapshots on this branch's shadow branch, newest first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_json(parser, "JSON instead of a table")
    arguments.add_max_count(parser, 20)
    parser.add_argument("--branch", help="another branch's shadow branch (default: current)")


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return log(find_worktree(), branch=args.branch, max_count=args.max_count, as_json=args.json)


def log(worktree: Worktree, *, branch: str | None, max_count: int, as_json: bool) -> int:
    from autocommit.engine.history import snapshots
    from autocommit.gitio import git, refs

    if branch:
        ref = contract.SHADOW_PREFIX + branch.removeprefix("refs/heads/")
    else:
        head_ref = git.run(["symbolic-ref", "-q", "HEAD"], worktree.root, check=False)
        ref = refs.shadow_ref(worktree, head_ref.stdout.decode().strip() or None)
    entries = snapshots(worktree, ref, limit=max_count)
    if as_json:
        print_json([dataclasses.asdict(e) | {"ref": ref} for e in entries])
        return 0
    if not entries:
        print(f"no snapshots on {ref} yet (run `autocommit snapshot`)")
        return 0
    rows = [
        (
            datetime.datetime.fromtimestamp(e.time).strftime("%Y-%m-%d %H:%M:%S"),
            e.commit[:12],
            e.files_changed,
            len(e.skipped),
            e.summary,
        )
        for e in entries
    ]
    print_table(["time", "snapshot", "files", "skipped", "summary"], rows)
    return 0
