"""``autocommit prune``: drop old unpinned snapshots and reclaim their space."""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import TYPE_CHECKING

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json
from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree

HELP = "drop unpinned snapshots older than a cutoff (pinned runs' code always stays)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--older-than",
        default="30d",
        metavar="AGE",
        help="drop snapshots older than this: 30d, 12h, 0 (default 30d)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="report what would go; change nothing"
    )
    parser.add_argument(
        "--unpin-deleted-runs",
        action="store_true",
        help="also unpin commits whose MLflow runs are all deleted (asks the tracking server)",
    )
    arguments.add_tracking_uri(parser)
    arguments.add_json(parser, "the report as JSON")


def run(args: argparse.Namespace) -> int:
    from autocommit.errors import AutocommitError
    from autocommit.gitio.repo import find_worktree
    from autocommit.settings.config import parse_duration

    try:
        age = parse_duration(args.older_than)
    except ValueError as exc:
        raise AutocommitError(f"bad --older-than: {exc}", "use e.g. 30d, 12h or 0") from exc
    return prune(find_worktree(), age, dry_run=args.dry_run,
                 unpin_deleted_runs=args.unpin_deleted_runs, tracking_uri=args.tracking_uri,
                 as_json=args.json)  # fmt: skip


def prune(worktree: Worktree, age: float, *, dry_run: bool, unpin_deleted_runs: bool,
          tracking_uri: str | None, as_json: bool) -> int:  # fmt: skip
    """Drop unpinned snapshots older than ``age`` seconds, and print the report."""
    from autocommit.reproduce.prune import prune as prune_snapshots
    from autocommit.settings.config import format_size

    if unpin_deleted_runs:  # a store that cannot be read: say so before any work
        from autocommit.tracking.store import store_client

        store_client(tracking_uri)
    report = prune_snapshots(
        worktree,
        time.time() - age,
        dry_run=dry_run,
        unpin_deleted_runs=unpin_deleted_runs,
        tracking_uri=tracking_uri,
        progress=lambda message: note(f"prune: {message}"),
    )
    if as_json:
        data = dataclasses.asdict(report)
        data.update(snapshots_dropped=report.snapshots_dropped, bytes_freed=report.bytes_freed)
        print_json(data)
        return 0
    would = "would drop" if report.dry_run else "dropped"
    print(f"{would} {report.snapshots_dropped} snapshots from {len(report.chains)} shadow "
          f"branches; {report.pins_kept} pinned commits kept")  # fmt: skip
    for chain in report.chains:
        line = f"  {chain.ref}: {chain.dropped} of {chain.snapshots} snapshots"
        if chain.kept_for_pins:
            pinned = "pinned commits"
            if chain.pins_on_chain:
                pinned = f"{chain.pins_on_chain} pinned snapshots on it"
            line += f"; {chain.kept_for_pins} older ones kept: {pinned} build on them"
        if chain.ref in report.skipped:
            line += " (skipped: it moved meanwhile)"
        print(line)
    if report.unpinned:
        print(f"{'would unpin' if report.dry_run else 'unpinned'} {len(report.unpinned)} "
              "commits whose MLflow runs are all deleted")  # fmt: skip
    freed = f"{report.objects_unreachable} objects ({format_size(report.bytes_unreachable)})"
    if report.dry_run:
        print(f"{freed} would become unreachable; nothing was changed")
        return 0
    print(f"{freed} became unreachable; {report.objects_removed} removed; repository objects "
          f"{format_size(report.bytes_before)} -> {format_size(report.bytes_after)} "
          f"({format_size(report.bytes_freed)} freed)")  # fmt: skip
    left = report.objects_unreachable - report.objects_removed
    if left:
        print(f"{left} objects are younger than gc.pruneExpire ({report.prune_expire}) "
              "and go at a later prune or gc")  # fmt: skip
    return 0
