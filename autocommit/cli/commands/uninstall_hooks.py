"""``autocommit uninstall-hooks``: remove the git hooks, restoring the ones they replaced."""

from __future__ import annotations

import argparse

HELP = "remove autocommit's git hooks and put back the hooks they replaced, byte for byte"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree
    from autocommit.hooks.install import report, uninstall

    return report(uninstall(find_worktree()))
