"""``autocommit hook <name> [ARGS]``: what the installed git hooks (and the pre-commit
framework) call after a commit, checkout, merge or rewrite."""

from __future__ import annotations

import argparse

from autocommit.hooks.run import HOOK_NAMES

HELP = (
    "what the git hooks call: keep the shadow branch in step (never fails under git; "
    "run by hand, exit status 1 after an error)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=HOOK_NAMES, help="the git hook that fired")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the arguments git gave it")
    parser.add_argument("--after-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    import os

    from autocommit.hooks import run as hook_entry

    done = hook_entry.run(args.name, args.args, after_pid=args.after_pid, ready_fd=args.ready_fd)
    # Under git, never a failure: the hook's status would become the git command's.
    failed = done.startswith("error:") and not hook_entry.started_by_git(os.environ)
    return 1 if failed else 0
