"""``autocommit restore``: bring the working tree to a run's code, undoably."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json
from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = "make the working tree a run's or revision's code, after saving the current tree"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_target(parser)
    arguments.add_json(parser)
    arguments.add_tracking_uri(parser)


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return restore(find_worktree(), args.target, tracking_uri=args.tracking_uri, as_json=args.json)


def restore(worktree: Worktree, target: str, *, tracking_uri: str | None, as_json: bool) -> int:
    from autocommit.reproduce.resolve import resolve
    from autocommit.reproduce.restore import restore as restore_tree

    resolved = resolve(worktree, target, tracking_uri=tracking_uri)
    result = restore_tree(worktree, resolved.commit)
    back = f"autocommit restore {result.pinned}"
    if as_json:
        print_json({"target": resolved.commit, "run_id": resolved.run_id,
                    "saved": result.pinned, "written": result.written,
                    "removed": result.removed, "submodules_left": result.submodules_left,
                    "undo": back})  # fmt: skip
        return 0
    for path in result.submodules_left:
        note(f"submodule {path} left at its current commit (restore does not move submodules)")
    if not result.written and not result.removed:
        print(f"the working tree already is {resolved.label}")
        return 0
    print(f"restored {resolved.label}: "
          f"{len(result.written)} files written, {len(result.removed)} removed; "
          "HEAD, branches and the index are unchanged")  # fmt: skip
    print(f"the previous tree is saved and pinned; to come back: {back}")
    return 0
