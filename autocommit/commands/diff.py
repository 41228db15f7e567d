"""``autocommit diff``: the code difference between two runs or revisions."""

from __future__ import annotations

import argparse
import sys

from autocommit.commands.show import TRACKING_URI_HELP

HELP = "show the code difference between two runs or revisions (git diff options pass through)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = "autocommit diff [--tracking-uri URI] A B [GIT-DIFF-OPTION...] [-- PATH...]"
    parser.add_argument("a", metavar="A", help="an MLflow run id or a git revision")
    parser.add_argument("b", metavar="B", help="an MLflow run id or a git revision")
    parser.add_argument(
        "git_args",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="git diff options in one word each (--stat, -U5, --word-diff=color), then paths",
    )
    parser.add_argument("--tracking-uri", metavar="URI", help=TRACKING_URI_HELP)


def git_diff_arguments(extra: list[str]) -> list[str]:
    """Options first, then ``--`` and the paths (argparse eats the user's ``--``)."""
    if "--" in extra:
        return extra
    options = [arg for arg in extra if arg.startswith("-")]
    paths = [arg for arg in extra if not arg.startswith("-")]
    return [*options, "--", *paths] if paths else options


def run(args: argparse.Namespace) -> int:
    from autocommit import git
    from autocommit.repo import find_worktree
    from autocommit.resolve import resolve

    worktree = find_worktree()
    old = resolve(worktree, args.a, tracking_uri=args.tracking_uri)
    new = resolve(worktree, args.b, tracking_uri=args.tracking_uri)
    extra = git_diff_arguments(list(args.git_args))
    color = (
        []
        if any(a.startswith(("--color", "--no-color")) for a in extra)
        else ["--color=always" if sys.stdout.isatty() else "--no-color"]
    )
    split = extra.index("--") if "--" in extra else len(extra)
    argv = ["diff", *color, *extra[:split], old.commit, new.commit, *extra[split:]]
    proc = git.run(argv, worktree.root, ok_codes=(0, 1))
    sys.stdout.flush()
    sys.stdout.buffer.write(proc.stdout)
    sys.stdout.buffer.flush()
    return proc.returncode
