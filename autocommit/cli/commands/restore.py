"""``autocommit restore``: bring the working tree to a run's code, undoably."""

from __future__ import annotations

import argparse

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json
from autocommit.notices import note

HELP = "make the working tree a run's or revision's code, after saving the current tree"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_target(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    arguments.add_tracking_uri(parser)


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree
    from autocommit.reproduce.resolve import resolve
    from autocommit.reproduce.restore import restore

    worktree = find_worktree()
    resolved = resolve(worktree, args.target, tracking_uri=args.tracking_uri)
    result = restore(worktree, resolved.commit)
    back = f"autocommit restore {result.pinned}"
    if args.json:
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
