"""``autocommit diff``: the code difference between two runs or revisions."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from autocommit.cli.commands import arguments

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree
    from autocommit.reproduce.context import Context


HELP = "show the code difference between two runs or revisions (git diff options pass through)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = (
        "autocommit diff [--tracking-uri URI] [--context] A B [GIT-DIFF-OPTION...] [-- PATH...]"
    )
    arguments.add_target(parser, "a", "A")
    arguments.add_target(parser, "b", "B")
    parser.add_argument(
        "git_args",
        nargs=argparse.REMAINDER,
        metavar="...",
        help="git diff options in one word each (--stat, -U5, --word-diff=color), then paths",
    )
    arguments.add_tracking_uri(parser)
    parser.add_argument(
        "--context",
        action="store_true",
        help="also show how the two runs' environments and sessions differ, and which data "
        "files differ (README: What exactly ran)",
    )


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

    return diff(find_worktree(), args.a, args.b, list(args.git_args),
                tracking_uri=args.tracking_uri, context=args.context)  # fmt: skip


def diff(
    worktree: Worktree,
    first: str,
    second: str,
    git_args: list[str],
    *,
    tracking_uri: str | None,
    context: bool = False,
) -> int:
    from autocommit.errors import AutocommitError
    from autocommit.gitio import git
    from autocommit.reproduce.resolve import resolve

    given, extra = split_arguments(git_args)  # --tracking-uri may come after A B
    tracking_uri = given or tracking_uri
    with_context = context or "--context" in extra
    extra = [word for word in extra if word != "--context"]
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
    if with_context:
        from autocommit.reproduce.context import read_context

        changed = print_context_diff(read_context(worktree, old), read_context(worktree, new))
        return 1 if changed else proc.returncode
    return proc.returncode


def print_context_diff(a: Context | None, b: Context | None) -> bool:
    """The differences of two runs' contexts, printed; True when there are any."""
    import difflib

    from autocommit.reproduce.context import data_differences

    if a is None or b is None or not a.present or not b.present:
        print("context: not recorded for both runs (or not in this repository)")
        return a != b
    changed = False
    for name, old, new in (
        ("environment.txt", a.environment, b.environment),
        ("session.py", (a.session or "").splitlines(), (b.session or "").splitlines()),
    ):
        lines = list(difflib.unified_diff(old, new, f"a/{name}", f"b/{name}", lineterm=""))
        changed = changed or bool(lines)
        print("\n".join(lines) if lines else f"{name}: the same")
    data = data_differences(a, b)
    changed = changed or bool(data)
    print("data files that differ:\n" + "\n".join(data) if data else "data files: the same")
    return changed
