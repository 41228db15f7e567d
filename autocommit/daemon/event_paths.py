"""What a changed path under a watched directory means to the daemon.

Paths of the working tree are changes to snapshot. Under the git dir, only what a git
operation of the user's touches matters (HEAD, the index, branches, merge and rebase
state); objects, logs, autocommit's own refs and files never do, so the daemon's own
writes never feed back into it. The sync cookies live in autocommit's state dir.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from autocommit.gitio import git_inputs
from autocommit.gitio.repo import Worktree


class Kind(Enum):
    TREE = "tree"  # a path of the working tree (relative to its top)
    GIT = "git"  # a git operation touched HEAD, the index, branches, …
    RULES = "rules"  # one of git's inputs changed (config, ignore and attribute files)
    COOKIE = "cookie"  # a sync cookie (its token)
    NONE = "none"  # the daemon's own files, objects, logs: never acted on


# Under the git dir: what a git operation of the user's touches.
_GIT_FILES = {
    "HEAD",
    "ORIG_HEAD",
    "index",
    "packed-refs",
    "MERGE_HEAD",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "AUTO_MERGE",
    "index.lock",
    "HEAD.lock",
}
_GIT_DIRS = ("refs/heads/", "rebase-merge/", "rebase-apply/", "sequencer/")


@dataclass(frozen=True)
class Layout:
    """Where things are, to sort an event's absolute path."""

    root: str
    git_dir: str
    common_dir: str
    cookies: str
    inputs: frozenset[str] = frozenset()  # git's inputs (:mod:`autocommit.gitio.git_inputs`)

    @classmethod
    def of(cls, worktree: Worktree, cookies: Path) -> Layout:
        inputs = frozenset(str(p) for p in git_inputs.files(worktree))
        return cls(str(worktree.root), str(worktree.git_dir), str(worktree.common_dir),
                   str(cookies), inputs)  # fmt: skip

    def classify(self, path: str) -> tuple[Kind, str]:
        if path in self.inputs:
            return Kind.RULES, path
        if path.startswith(self.cookies + "/"):
            return Kind.COOKIE, path[len(self.cookies) + 1 :]
        for base, own in ((self.git_dir, True), (self.common_dir, False)):
            if path == base or path.startswith(base + "/"):
                return _classify_git(path[len(base) + 1 :], own)
        if path.startswith(self.root + "/"):
            rel = path[len(self.root) + 1 :]
            if rel == ".git" or rel.startswith(".git/"):
                return Kind.NONE, rel  # a linked worktree's .git file
            return _classify_tree(rel)
        return Kind.NONE, path


def _classify_tree(rel: str) -> tuple[Kind, str]:
    """A path of the working tree; inside a nested repository's ``.git`` only its HEAD
    counts (a submodule's checkout changes the commit the superproject records)."""
    parts = rel.split("/")
    if ".git" not in parts:
        return Kind.TREE, rel
    at = parts.index(".git")
    if parts[at + 1 :] == ["HEAD"]:
        return Kind.TREE, "/".join(parts[:at])
    return Kind.NONE, rel


def _classify_git(rel: str, own: bool) -> tuple[Kind, str]:
    """An event under a git dir: ``own`` is this worktree's git dir, else the common one."""
    if rel.startswith("refs/heads/") or rel == "packed-refs":
        return Kind.GIT, rel
    if rel.startswith("modules/") and rel.endswith("/HEAD"):
        return Kind.GIT, rel  # a submodule's checkout moves its gitlink
    if own and (rel in _GIT_FILES or rel.startswith(_GIT_DIRS)):
        return Kind.GIT, rel
    return Kind.NONE, rel
