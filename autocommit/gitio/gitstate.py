"""Is the user's git busy with this working tree right now?

The daemon waits out git operations before it snapshots, so no snapshot mixes half of a
checkout with the rest, and it never competes with the user's git for the repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from autocommit.gitio.repo import Worktree

# Files and directories git keeps while a multi-step operation is under way or stopped.
OPERATION_MARKERS = {
    "MERGE_HEAD": "merge",
    "rebase-merge": "rebase",
    "rebase-apply": "rebase or am",
    "CHERRY_PICK_HEAD": "cherry-pick",
    "REVERT_HEAD": "revert",
    "sequencer": "cherry-pick or revert sequence",
    "BISECT_LOG": "bisect",
}
# git commands that change the working tree, the index or HEAD.
_MUTATING = {
    "am",
    "checkout",
    "cherry-pick",
    "commit",
    "merge",
    "pull",
    "rebase",
    "reset",
    "restore",
    "revert",
    "stash",
    "switch",
}
# git processes that stay for long and mind no one packing objects: an idle wait for
# them would never end.
_LONG_LIVED = {"fsmonitor--daemon", "credential-cache--daemon", "daemon", "cat-file"}
# Options of `git` itself that take a separate value (`git -C dir commit`).
_OPTIONS_WITH_VALUE = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path"}
# autocommit's own git calls carry this option; they are never the user's operation.
_OWN_MARKER = "core.hooksPath=/dev/null"


class Busy(NamedTuple):
    reason: str  # for the log and `autocommit status`
    # strict: the tree is in a temporary state (a pre-commit hook stashed unstaged
    # changes) and must not be snapshotted however long it lasts; otherwise the daemon
    # proceeds once the tree has been quiet for a while (git may be waiting for an editor).
    strict: bool


def operation_in_progress(worktree: Worktree) -> str | None:
    """The multi-step operation (merge, rebase, …) git is in the middle of, if any."""
    for name, what in OPERATION_MARKERS.items():
        if (worktree.git_dir / name).exists():
            return what
    return None


def _git_subcommand(argv: list[str]) -> str | None:
    if not argv or os.path.basename(argv[0]) != "git":
        return None
    args = iter(argv[1:])
    for arg in args:
        if arg in _OPTIONS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _runs_pre_commit_hook(argv: list[str]) -> bool:
    """A pre-commit hook, or the pre-commit framework (which stashes unstaged changes).

    The framework's hook runs ``python -mpre_commit hook-impl --hook-type=pre-commit``
    (or ``pre-commit hook-impl …``); ``pre-commit run`` by hand stashes the same way.
    """
    if any(arg.endswith("hooks/pre-commit") for arg in argv):
        return True
    if not any("pre-commit" in arg or "pre_commit" in arg for arg in argv[:3]):
        return False
    return "run" in argv or ("hook-impl" in argv and "--hook-type=pre-commit" in argv)


def _inside(cwd: str, root: Path) -> bool:
    top = str(root)
    return cwd == top or cwd.startswith(top.rstrip("/") + "/")


def user_git_activity(worktree: Worktree, any_command: bool = False) -> Busy | None:
    """A running git command (that changes the tree, or ``any_command``) or pre-commit
    hook of the user's in this worktree."""
    import psutil  # here: a snapshot in a new process seldom needs it, and it costs ~10 ms

    found: Busy | None = None
    me = os.getpid()
    for proc in psutil.process_iter(["cmdline", "ppid"]):
        argv = proc.info.get("cmdline") or []
        if not argv or proc.pid == me or proc.info.get("ppid") == me or _OWN_MARKER in argv:
            continue
        strict = _runs_pre_commit_hook(argv)
        subcommand = None if strict else _git_subcommand(argv)
        counts = subcommand in _MUTATING or (any_command and subcommand not in _LONG_LIVED)
        if not strict and not (subcommand and counts):
            continue
        try:
            cwd = proc.cwd()
        except (psutil.Error, OSError):
            continue
        if not _inside(cwd, worktree.root):
            continue
        if strict:
            return Busy(f"a pre-commit hook is running (pid {proc.pid})", strict=True)
        found = found or Busy(f"`git {subcommand}` is running (pid {proc.pid})", strict=False)
    return found


def busy(
    worktree: Worktree, look_for_processes: bool = True, any_command: bool = False
) -> Busy | None:
    """Why a snapshot should wait now, or None when git is idle in this worktree
    (``any_command``: any git command of the user's counts, not only those that change
    the tree)."""
    if (worktree.git_dir / "index.lock").exists():
        return Busy("git holds index.lock", strict=False)
    if look_for_processes:
        return user_git_activity(worktree, any_command)
    return None
