"""The commit an MLflow run is tagged with: its snapshot's tree, on top of HEAD.

A snapshot's first parent is the previous snapshot of its chain, so pinning it would
keep every earlier work-in-progress snapshot alive (prune could free nothing) and push
all of them along with the pin. A run commit has the snapshot's tree, message, author
and dates, but HEAD as its only parent: pinning it keeps exactly the run's code, and
``git diff HEAD <commit>`` is still the uncommitted work. Made from the snapshot alone,
it is the same commit every time it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autocommit import git
from autocommit.objects import read_loose
from autocommit.repo import Worktree
from autocommit.snapshot import Snapshot

SNAPSHOT_TRAILER = "Autocommit-Snapshot"


@dataclass(frozen=True)
class PinnedRun:
    """A run commit, made and pinned for a snapshot, and the run's change summary."""

    commit: str
    newly_pinned: bool  # this request wrote the pin (it was not there before)
    changes: str | None  # ``git diff --stat`` of HEAD → snapshot; None for a clean tree

    def to_dict(self) -> dict[str, Any]:
        return {"commit": self.commit, "newly_pinned": self.newly_pinned, "changes": self.changes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PinnedRun:
        changes = data["changes"]
        return cls(str(data["commit"]), bool(data["newly_pinned"]),
                   None if changes is None else str(changes))  # fmt: skip


def _identity_env(role: str, line: str) -> dict[str, str]:
    """``Name <email> 1700000000 +0000`` → GIT_<ROLE>_NAME/EMAIL/DATE."""
    name, _, rest = line.partition(" <")
    email, _, date = rest.partition("> ")
    return {
        f"GIT_{role}_NAME": name,
        f"GIT_{role}_EMAIL": email,
        f"GIT_{role}_DATE": date,
    }


def run_commit(worktree: Worktree, snap: Snapshot) -> str:
    """The commit to tag and pin for a run started at ``snap``."""
    if not snap.dirty:
        return snap.commit  # clean: HEAD itself
    loose = read_loose(worktree.common_dir / "objects", snap.commit)
    if loose is not None and loose[0] == "commit":
        body = loose[1]
    else:
        body = git.run(["cat-file", "commit", snap.commit], worktree.root).stdout
    header, _, message = body.decode(errors="surrogateescape").partition("\n\n")
    fields = [line.split(" ", 1) for line in header.splitlines() if " " in line]
    parents = [value for key, value in fields if key == "parent"]
    own_parents = [snap.head] if snap.head else []
    if parents == own_parents:
        return snap.commit  # already on top of HEAD alone
    env = {}
    for key, value in fields:
        if key in ("author", "committer"):
            env.update(_identity_env(key.upper(), value))
    message = message.rstrip("\n") + f"\n{SNAPSHOT_TRAILER}: {snap.commit}\n"
    parent_args = [arg for p in own_parents for arg in ("-p", p)]
    return git.out(
        ["commit-tree", "--no-gpg-sign", snap.tree, *parent_args, "-F", "-"],
        worktree.root,
        input=message.encode(errors="surrogateescape"),
        env=env,
    )
