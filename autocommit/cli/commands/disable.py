"""``autocommit disable``: undo ``autocommit init`` in one command."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree

HELP = (
    "turn autocommit off here: stop the daemon, remove its hooks (yours come back), unset "
    "enabled; snapshots and pins stay unless --purge"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--purge",
        action="store_true",
        help="also delete every snapshot and pin (refs/autocommit/*) and this worktree's "
        "state in .git/autocommit; the code of your runs is then gone from here",
    )


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return disable(find_worktree(), purge=args.purge)


def disable(worktree: Worktree, *, purge: bool) -> int:
    from autocommit.daemon import client
    from autocommit.gitio import git
    from autocommit.hooks import install as hook_install
    from autocommit.settings import config

    note("daemon stopped" if client.stop(worktree) else "no daemon was running")
    refused = hook_install.report(hook_install.uninstall(worktree))
    # Exit 5: it was not set here.
    git.run(["config", "--local", "--unset-all", "autocommit.enabled"], worktree.root,
            ok_codes=(0, 5))  # fmt: skip
    if config.load(worktree.root).enabled:  # set in your global config, or the environment
        git.run(["config", "--local", "autocommit.enabled", "false"], worktree.root)
    note(f"disabled in {worktree.root}; `autocommit init` turns it on again")
    if purge:
        _purge(worktree)
    else:
        note("snapshots and pins are kept (refs/autocommit/*); `autocommit disable --purge` "
             "deletes them")  # fmt: skip
    return refused


def _purge(worktree: Worktree) -> None:
    import shutil

    from autocommit.gitio import refs
    from autocommit.gitio.git import run as git_run

    found = refs.list_refs(worktree.root)
    request = "".join(f"delete {ref} {sha}\n" for ref, sha in found.items()).encode()
    if request:
        git_run(["update-ref", "--stdin"], worktree.root, input=request)
    shutil.rmtree(worktree.state_dir, ignore_errors=True)
    note(f"deleted {len(found)} refs under refs/autocommit/ and {worktree.state_dir}; "
         "their objects go with your next `git gc`")  # fmt: skip
