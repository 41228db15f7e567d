"""``autocommit install-hooks``: install the git hooks beside the ones already there."""

from __future__ import annotations

import argparse

HELP = (
    "install the git hooks, all four or none (an existing hook keeps running; "
    "installing twice is a no-op)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree
    from autocommit.hooks.install import install, report

    return report(install(find_worktree()))
