"""``autocommit stop``: stop the watch daemon of this working tree."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = "stop the watch daemon (a snapshot in progress is finished first)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for it to exit (default: 10)",
    )


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return stop(find_worktree(), timeout=args.timeout)


def stop(worktree: Worktree, *, timeout: float) -> int:
    from autocommit.daemon import client

    if client.stop(worktree, timeout=timeout):
        note("daemon stopped")
    else:
        note("no daemon was running")
    return 0
