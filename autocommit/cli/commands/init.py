"""``autocommit init``: enable autocommit in this working tree."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = "enable autocommit in this repository and take a first snapshot"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-daemon", action="store_true",
                        help="do not start the watch daemon (setting: daemon = false)")  # fmt: skip
    parser.add_argument("--no-hooks", action="store_true",
                        help="do not install the git hooks (setting: hooks = false)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return init(find_worktree(), start_daemon=not args.no_daemon, install_hooks=not args.no_hooks)


def init(worktree: Worktree, *, start_daemon: bool, install_hooks: bool) -> int:
    from autocommit.engine.snapshot import take_snapshot
    from autocommit.gitio import git
    from autocommit.settings import config

    git.run(["config", "--local", "autocommit.enabled", "true"], worktree.root)
    snap = take_snapshot(worktree)
    for skipped in snap.skipped:
        note(f"left out {skipped.path} ({skipped.reason})")
    note(f"enabled in {worktree.root}; snapshots go to {snap.shadow_ref}")
    if install_hooks and config.load(worktree.root).hooks:
        from autocommit.hooks import install as hook_install

        hook_install.report(hook_install.install(worktree))  # a refused hook is only noted
    if start_daemon and config.load(worktree.root).daemon:
        from autocommit.daemon import client

        note(f"watch daemon running (pid {client.start(worktree)})")
    print(snap.commit)
    return 0
