"""``autocommit run``: the watch daemon itself (``--foreground`` for systemd, debugging)."""

from __future__ import annotations

import argparse

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

    worktree = find_worktree()
    if args.foreground:
        from autocommit.daemon.process import run_foreground

        return run_foreground(worktree)
    from autocommit.cli.commands import start

    return start.run(argparse.Namespace(no_wait=False, timeout=30.0))
