"""``autocommit show``: what a run's (or a revision's) snapshot holds."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
from typing import TYPE_CHECKING

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree
    from autocommit.reproduce.context import Context

HELP = (
    "show the snapshot of a run or revision: its HEAD, files changed vs HEAD, files left "
    "out, and a run's context (environment, session, data, dependencies)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_target(parser)
    arguments.add_json(parser)
    arguments.add_tracking_uri(parser)


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return show(find_worktree(), args.target, tracking_uri=args.tracking_uri, as_json=args.json)


def show(worktree: Worktree, target: str, *, tracking_uri: str | None, as_json: bool) -> int:
    from autocommit.gitio import git
    from autocommit.reproduce.context import read_context
    from autocommit.reproduce.describe import describe
    from autocommit.reproduce.resolve import resolve

    resolved = resolve(worktree, target, tracking_uri=tracking_uri)
    found = describe(worktree, resolved)
    context = read_context(worktree, resolved)
    if as_json:
        print_json({**dataclasses.asdict(found),
                    "context": dataclasses.asdict(context) if context else None})  # fmt: skip
        return 0
    taken = datetime.datetime.fromtimestamp(found.time).strftime("%Y-%m-%d %H:%M:%S")
    head = "(no commit yet)"
    if found.head:
        subject = git.out(["show", "-s", "--format=%s", "--end-of-options", found.head],
                          worktree.root)  # fmt: skip
        head = f"{found.head[:12]} {subject}"
    rows = [("snapshot", found.commit), ("run", found.run_id), ("based on", head),
            ("taken", taken), ("summary", found.summary if found.is_snapshot else None),
            ("shadow", found.shadow_ref), ("on chain", found.chain_snapshot)]  # fmt: skip
    for name, value in rows:
        if value:
            print(f"{name:<10}{value}")
    print()
    if not found.dirty:
        print("clean: the snapshot is the HEAD commit itself")
    else:
        count = len(found.changes)
        print(f"{count} file{'s' if count != 1 else ''} changed vs HEAD:")
        for change in found.changes:
            path = f"{change.old_path} -> {change.path}" if change.old_path else change.path
            print(f"  {change.status}  {path}")
    if found.skipped:
        print("left out of the snapshot:")
        for skipped in found.skipped:
            print(f"  {skipped.path} ({skipped.reason})" if skipped.reason else f"  {skipped.path}")
    if context is not None:
        print_context(context)
    return 0


def print_context(context: Context) -> None:
    """What the run executed beyond the working tree, in a few lines."""
    print(f"\ncontext   {context.commit}")
    if not context.present:
        print("  not in this repository: `autocommit fetch` brings it")
        return
    if context.environment:
        print(f"  environment  {context.environment[0]}, "
              f"{len(context.environment) - 1} distributions")  # fmt: skip
    if context.session is not None:
        print(f"  session      {context.session_cells} cells, "
              f"{len(context.session.splitlines())} lines")  # fmt: skip
    hashed = sum(1 for entry in context.data if entry.get("blob"))
    print(f"  data         {len(context.data)} files ({hashed} hashed)")
    for dep in context.dependencies:
        state = "dirty" if dep.get("dirty") else "clean"
        commit = dep.get("commit") or f"not enabled: HEAD {str(dep.get('head'))[:12]} only"
        print(f"  dependency   {dep.get('path')} ({state}): {commit}")
