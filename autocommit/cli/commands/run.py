"""``autocommit run``: the watch daemon itself (``--foreground`` for systemd, debugging)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree

HELP = "run the watch daemon: in this process with --foreground, else like `start`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--foreground",
        action="store_true",
        help="stay in the foreground until SIGTERM/SIGINT (logs to stderr "
        "when it is a terminal or the journal, and to the log file)",
    )


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return run_daemon(find_worktree(), foreground=args.foreground)


def run_daemon(worktree: Worktree, *, foreground: bool) -> int:
    """The daemon in this process (``foreground``), else started like `autocommit start`."""
    if foreground:
        from autocommit.daemon.process import run_foreground

        return run_foreground(worktree)
    from autocommit.cli.commands.start import start

    return start(worktree, wait=True, timeout=30.0)
