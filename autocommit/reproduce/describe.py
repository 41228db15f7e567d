"""What a snapshot is: the HEAD it was based on, what differs from it, what was left out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from autocommit import contract
from autocommit.contract import (
    BRANCH_TAG,
    HEAD_TRAILER,
    SKIPPED_TRAILER,
    SNAPSHOT_TRAILER,
    UNBORN,
    unquote_path,
)
from autocommit.engine.snapshot import summarize
from autocommit.gitio import git
from autocommit.gitio.repo import Worktree
from autocommit.reproduce.resolve import Resolved

_FIELD = "\x1f"
_FORMAT = _FIELD.join(
    [
        "%H",
        "%T",
        "%ct",
        "%s",
        f"%(trailers:key={HEAD_TRAILER},valueonly)",
        f"%(trailers:key={SKIPPED_TRAILER},valueonly,separator=%x1e)",
        f"%(trailers:key={SNAPSHOT_TRAILER},valueonly)",
    ]
)
_SKIPPED = re.compile(r"(?P<path>.*) \((?P<reason>[^()]*(?:\([^()]*\)[^()]*)*)\)")
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True)
class Change:
    status: str  # A, M, D, T, or R (renamed, with old_path)
    path: str
    old_path: str | None = None


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class Description:
    commit: str
    tree: str
    time: int  # unix seconds of the commit
    summary: str
    is_snapshot: bool  # False: a commit of the user's (a clean run's snapshot is HEAD)
    head: str | None  # the HEAD it was based on (None: no commit yet)
    dirty: bool
    run_id: str | None = None
    shadow_ref: str | None = None
    chain_snapshot: str | None = None  # a run commit's snapshot on the shadow branch
    changes: list[Change] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def describe(worktree: Worktree, resolved: Resolved) -> Description:
    fields = git.out(["show", "-s", f"--format={_FORMAT}", "--end-of-options", resolved.commit],
                     worktree.root)  # fmt: skip
    commit, tree, ctime, subject, head_trailer, skipped, chain = fields.split(_FIELD)
    # Trailers are text anyone could have written (a teammate's fetched commit): only a
    # commit id is taken for one.
    value = _last_line(head_trailer)
    is_snapshot = value == UNBORN or contract.OBJECT_ID.fullmatch(value) is not None
    head: str | None = resolved.commit
    if is_snapshot:
        head = None if value == UNBORN else value
    head_tree = git.out(["rev-parse", "--verify", "--end-of-options", f"{head}^{{tree}}"],
                        worktree.root) if head else None  # fmt: skip
    chain_snapshot = _last_line(chain)
    changes = changes_between(worktree, head or _EMPTY_TREE, commit)
    # A run's summary says what the run had beyond HEAD, like the changes listed with it
    # (a chain snapshot's own subject says what changed since the snapshot before it).
    summary = subject.removeprefix("autocommit: ")
    if resolved.run_id:
        summary = summarize([(c.status, c.path) for c in changes])
    return Description(
        commit=commit,
        tree=tree,
        time=int(ctime),
        summary=summary,
        is_snapshot=is_snapshot,
        head=head,
        dirty=tree != head_tree,
        run_id=resolved.run_id,
        shadow_ref=resolved.run_tags.get(BRANCH_TAG),
        chain_snapshot=chain_snapshot if contract.OBJECT_ID.fullmatch(chain_snapshot) else None,
        changes=changes,
        skipped=[_parse_skipped(v) for v in skipped.split("\x1e") if v.strip()],
    )


def changes_between(worktree: Worktree, old: str, new: str) -> list[Change]:
    """The files that differ from ``old`` to ``new`` (renames detected)."""
    raw = git.run(["diff-tree", "-r", "-z", "-M", "--name-status", "--end-of-options", old, new],
                  worktree.root)  # fmt: skip
    parts = git.nul_split(raw.stdout)
    found: list[Change] = []
    i = 0
    while i < len(parts):
        status = parts[i]
        if status[0] in "RC":
            found.append(Change(status[0], parts[i + 2], parts[i + 1]))
            i += 3
        else:
            found.append(Change(status[0], parts[i + 1]))
            i += 2
    return found


def _last_line(trailer: str) -> str:
    return trailer.strip().splitlines()[-1] if trailer.strip() else ""


def _parse_skipped(value: str) -> SkippedFile:
    text = value.strip()
    match = _SKIPPED.fullmatch(text)
    if not match:
        return SkippedFile(unquote_path(text), "")
    return SkippedFile(unquote_path(match.group("path")), match.group("reason"))
