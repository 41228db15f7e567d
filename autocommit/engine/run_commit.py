"""The commit an MLflow run is tagged with: its snapshot's tree, on top of HEAD.

A snapshot's first parent is the previous snapshot of its chain, so pinning it would
keep every earlier work-in-progress snapshot alive (prune could free nothing) and push
all of them along with the pin. A run commit has the snapshot's tree, author and dates,
but HEAD as its only parent: pinning it keeps exactly the run's code, and ``git diff HEAD
<commit>`` is still the uncommitted work. Its message is the snapshot's, but its subject
says what changed since HEAD (the snapshot's says what changed since the snapshot before).
Made from the snapshot alone, it is the same commit every time it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autocommit.contract import SNAPSHOT_TRAILER
from autocommit.engine.snapshot import CommitToPin, Snapshot, changes_since, summarize
from autocommit.gitio import git
from autocommit.gitio.commits import commit_text, write_commits
from autocommit.gitio.objects import object_id, read_loose
from autocommit.gitio.repo import Worktree


@dataclass(frozen=True)
class PinnedRun:
    """A run commit, made and pinned for a snapshot, and the run's change summary."""

    commit: str
    newly_pinned: bool  # this request wrote the pin (it was not there before)
    changes: str | None  # ``git diff --stat`` of HEAD → snapshot; None for a clean tree
    context: str | None = None  # the run's context commit, pinned with it (when asked)

    def to_dict(self) -> dict[str, Any]:
        return {"commit": self.commit, "newly_pinned": self.newly_pinned,
                "changes": self.changes, "context": self.context}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PinnedRun:
        changes, context = data["changes"], data.get("context")
        return cls(str(data["commit"]), bool(data["newly_pinned"]),
                   None if changes is None else str(changes),
                   None if context is None else str(context))  # fmt: skip


def commit_text_of(worktree: Worktree, commit: str) -> bytes:
    """The raw text of ``commit``: read from its loose object, else asked of git."""
    loose = read_loose(worktree.common_dir / "objects", commit)
    if loose is not None and loose[0] == "commit":
        return loose[1]
    return git.run(["cat-file", "commit", commit], worktree.root).stdout


def run_commit_text(worktree: Worktree, snap: Snapshot, snapshot_text: bytes) -> bytes | None:
    """The text of ``snap``'s run commit, given the snapshot's own (``snapshot_text``);
    None when the snapshot is its own run commit (it is HEAD, or on top of HEAD alone)."""
    header, _, message = snapshot_text.decode(errors="surrogateescape").partition("\n\n")
    fields = dict(line.split(" ", 1) for line in header.splitlines() if " " in line)
    parents = [line.removeprefix("parent ") for line in header.splitlines()
               if line.startswith("parent ")]  # fmt: skip
    own_parents = [snap.head] if snap.head else []
    if not snap.dirty or parents == own_parents:
        return None
    summary = snap.head_summary or _head_summary(worktree, snap)
    body = message.partition("\n")[2]  # the trailers, after the snapshot's subject
    message = (
        f"autocommit: {summary}\n" + body.rstrip("\n") + f"\n{SNAPSHOT_TRAILER}: {snap.commit}\n"
    )
    return commit_text(snap.tree, own_parents, fields["author"], fields["committer"], message)


def _head_summary(worktree: Worktree, snap: Snapshot) -> str:
    """What changed from HEAD to ``snap``, as the engine words it, in path order."""
    head_tree = f"{snap.head}^{{tree}}" if snap.head else None
    return summarize(changes_since(worktree, head_tree, snap.tree), in_path_order=True)


def run_commit_to_pin(
    worktree: Worktree, snap: Snapshot, snapshot_text: bytes | None
) -> CommitToPin:
    """``snap``'s run commit, with its text to write (``snapshot_text``: the snapshot's
    own text when at hand, else it is read)."""
    if not snap.dirty:
        return CommitToPin(snap.commit)  # clean: HEAD itself
    if snapshot_text is None:
        snapshot_text = commit_text_of(worktree, snap.commit)
    text = run_commit_text(worktree, snap, snapshot_text)
    if text is None:
        return CommitToPin(snap.commit)
    return CommitToPin(object_id("commit", text, snap.commit), text)


def run_commit(worktree: Worktree, snap: Snapshot) -> str:
    """The commit to tag and pin for a run started at ``snap``, written if need be."""
    wanted = run_commit_to_pin(worktree, snap, None)
    if wanted.text is not None:
        write_commits(worktree, [wanted.text])
    return wanted.commit
