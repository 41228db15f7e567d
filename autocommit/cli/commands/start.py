"""``autocommit start``: start the watch daemon of this working tree."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = "start the watch daemon (returns once it watches the tree and has reconciled it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true", help="return as soon as it is launched")
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for it to get ready (default: 30)",
    )


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return start(find_worktree(), wait=not args.no_wait, timeout=args.timeout)


def start(worktree: Worktree, *, wait: bool, timeout: float) -> int:
    from autocommit.daemon import client

    running = client.is_running(worktree)
    pid = client.start(worktree, wait=wait, timeout=timeout)
    if running:
        note(f"the daemon already watches {worktree.root} (pid {pid})")
    elif not wait:
        note(f"daemon launched (pid {pid}); `autocommit status` tells when it is ready")
    else:
        note(f"daemon watching {worktree.root} (pid {pid})")
    print(pid)
    return 0
