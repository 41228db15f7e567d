"""Reading snapshots back from a shadow branch."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from autocommit.contract import HEAD_TRAILER, UNBORN
from autocommit.gitio import git
from autocommit.gitio.repo import Worktree

_FIELD, _RECORD = "\x1f", "\x1e"
_FORMAT = (
    _RECORD
    + _FIELD.join(
        [
            "%H",
            "%ct",
            "%s",
            f"%(trailers:key={HEAD_TRAILER},valueonly)",
            "%(trailers:key=Autocommit-Skipped,valueonly,separator=%x1d)",
        ]
    )
    + _FIELD
)


@dataclass(frozen=True)
class SnapshotEntry:
    commit: str
    time: int  # unix seconds
    summary: str
    head: str | None
    files_changed: int
    skipped: list[str] = field(default_factory=list)


def snapshots(worktree: Worktree, ref: str, limit: int | None = None) -> list[SnapshotEntry]:
    """The snapshots of the chain at ``ref``, newest first (stops at the user's commits)."""
    args = ["log", "--first-parent", "--shortstat", f"--format={_FORMAT}", "--end-of-options",
            ref, "--"]  # fmt: skip
    proc = git.run(args, worktree.root, check=False)
    if proc.returncode != 0:
        return []
    found: list[SnapshotEntry] = []
    for record in proc.stdout.decode(errors="surrogateescape").split(_RECORD)[1:]:
        sha, ctime, subject, head, skipped, stat = record.split(_FIELD)
        if not head.strip():
            break  # a commit of the user's: the chain of snapshots ends here
        files = re.search(r"(\d+) files? changed", stat)
        head_sha = head.strip()
        found.append(
            SnapshotEntry(
                commit=sha,
                time=int(ctime),
                summary=subject.removeprefix("autocommit: "),
                head=None if head_sha == UNBORN else head_sha,
                files_changed=int(files.group(1)) if files else 0,
                skipped=[s.strip() for s in skipped.split("\x1d") if s.strip()],
            )
        )
        if limit is not None and len(found) >= limit:
            break
    return found
