"""``autocommit diff``: the code difference between two runs or revisions."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from autocommit.cli.commands import arguments

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = "show the code difference between two runs or revisions (git diff options pass through)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = "autocommit diff [--tracking-uri URI] A B [GIT-DIFF-OPTION...] [-- PATH...]"
    arguments.add_target(parser, "a", "A")
    arguments.add_target(parser, "b", "B")
    parser.add_argument(
        "git_args",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="git diff options in one word each (--stat, -U5, --word-diff=color), then paths",
    )
    arguments.add_tracking_uri(parser)


def split_arguments(extra: list[str]) -> tuple[str | None, list[str]]:
    """``--tracking-uri`` given after A and B, and git diff's options then ``--`` and paths.

    (argparse hands over everything after B, and eats the user's ``--``.)
    """
    tracking_uri = None
    rest: list[str] = []
    words = iter(extra)
    for word in words:
        if word == "--":
            rest += ["--", *words]
        elif word == "--tracking-uri":
            tracking_uri = next(words, None)
        elif word.startswith("--tracking-uri="):
            tracking_uri = word.split("=", 1)[1]
        else:
            rest.append(word)
    if "--" in rest:
        return tracking_uri, rest
    options = [arg for arg in rest if arg.startswith("-")]
    paths = [arg for arg in rest if not arg.startswith("-")]
    return tracking_uri, [*options, "--", *paths] if paths else options


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return diff(
        find_worktree(), args.a, args.b, list(args.git_args), tracking_uri=args.tracking_uri
    )


def diff(
    worktree: Worktree, first: str, second: str, git_args: list[str], *, tracking_uri: str | None
) -> int:
    from autocommit.errors import AutocommitError
    from autocommit.gitio import git
    from autocommit.reproduce.resolve import resolve

    given, extra = split_arguments(git_args)  # --tracking-uri may come after A B
    tracking_uri = given or tracking_uri
    old = resolve(worktree, first, tracking_uri=tracking_uri)
    new = resolve(worktree, second, tracking_uri=tracking_uri)
    color = (
        []
        if any(a.startswith(("--color", "--no-color")) for a in extra)
        else ["--color=always" if sys.stdout.isatty() else "--no-color"]
    )
    split = extra.index("--") if "--" in extra else len(extra)
    argv = ["diff", *color, *extra[:split], old.commit, new.commit, *extra[split:]]
    # The paths are the user's own pathspecs, as git diff takes them (globs, magic).
    proc = git.run(argv, worktree.root, check=False, env=git.PATTERN_PATHSPECS)
    if proc.returncode not in (0, 1):
        options = " ".join(a for a in extra[:split]) or "(none)"
        raise AutocommitError(
            f"git diff did not accept the options {options}",
            "see `git diff -h`; give option values in the same word (-U5, --stat=80)",
        )
    sys.stdout.flush()
    sys.stdout.buffer.write(proc.stdout)
    sys.stdout.buffer.flush()
    return proc.returncode
