"""What a run had beyond HEAD, in one line: ``2 files changed, 3 insertions(+), 1
deletion(-): train.py +2 -1, notes.md (new) +1`` (the ``autocommit.changes`` tag)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from autocommit.contract import MAX_TAG_VALUE

if TYPE_CHECKING:
    from pathlib import Path

    from autocommit.engine.snapshot import Snapshot
    from autocommit.gitio.repo import Worktree


# git's diff of two trees, as --stat counts it, in a form read back below; plumbing, so
# that no diff configuration of the user's changes the counts
_DIFF = ["diff-tree", "-r", "--no-ext-diff", "--no-textconv", "--no-renames", "--numstat",
         "--summary", "--shortstat", "-z"]  # fmt: skip


class KeptDiff:
    """``git diff-tree --stdin`` kept by the daemon for its runs' change summaries, so
    that a run's summary starts no process. A request is two trees, then a line that is
    no object id, which git echoes at the end of its answer: random for each process, so
    that no file name can hold it. Used by one thread at a time (the daemon's one
    describer)."""

    def __init__(self, root: Path) -> None:
        from autocommit.gitio.piped import PipedGit

        self._git = PipedGit(root, [*_DIFF, "--stdin"], kept=True)
        self._end = f"autocommit-end-{secrets.token_hex(16)}\n".encode()
        self._stale = False

    def restart(self) -> None:
        """Start git afresh before the next diff (git's config or attributes changed; it
        read them when it started). Safe from another thread."""
        self._stale = True

    def diff(self, base: str, tree: str) -> bytes | None:
        """The diff of two trees (None: git stopped answering; the next one restarts it)."""
        if self._stale:
            self._stale = False
            self._git.close()
        answer = self._git.ask_until(f"{base} {tree}\n".encode() + self._end, self._end)
        if answer is None:
            self._git.failure()
            return None
        return answer.partition(b"\n")[2]  # after the line naming the two trees

    def close(self) -> None:
        self._git.close()


def changes_since_head(worktree: Worktree, snap: Snapshot, kept: KeptDiff | None = None) -> str:
    """``git diff --stat`` of HEAD → snapshot, cut to fit a tag (the total line kept);
    asked of ``kept`` when given and HEAD's tree is known."""
    key = (snap.head, snap.commit)  # the same two commits always give the same text
    if key not in _changes_memo:
        if len(_changes_memo) >= 64:
            _changes_memo.clear()
        _changes_memo[key] = _diffstat(worktree, snap, kept)
    return _changes_memo[key]


_changes_memo: dict[tuple[str | None, str], str] = {}


def _diffstat(worktree: Worktree, snap: Snapshot, kept: KeptDiff | None) -> str:
    """One line, total first: ``2 files changed, 3 insertions(+), 1 deletion(-): train.py
    +2 -1, notes.md (new) +1``. MLflow's run page shows a tag on one line, cut to its
    start, so the total comes first and the files after it, as many as fit in a tag."""
    from autocommit.gitio import git
    from autocommit.gitio.objects import empty_tree

    base = snap.head_tree if snap.head else empty_tree(snap.commit)
    answer = kept.diff(base, snap.tree) if kept is not None and base else None
    if answer is None:  # the tree: the commit may not be written yet
        base = base or snap.head or empty_tree(snap.commit)
        answer = git.run([*_DIFF, "--end-of-options", base, snap.tree], worktree.root).stdout
    out = answer.decode(errors="surrogateescape")
    *records, tail = out.split("\0")
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    if not records or not lines:
        return "mode or metadata changes only"
    marks = {}
    for line in lines[1:]:  # `create mode 100644 <path>`, `delete mode 100644 <path>`
        words = line.split(" ", 3)
        if len(words) == 4 and words[:2] in (["create", "mode"], ["delete", "mode"]):
            marks[words[3]] = "new" if words[0] == "create" else "gone"
    files = [_file_change(record, marks) for record in records if record.count("\t") >= 2]
    return one_line_changes(lines[0], files)


def _file_change(record: str, marks: dict[str, str]) -> str:
    """``train.py +2 -1`` from a ``--numstat`` record ``2<TAB>1<TAB>train.py``."""
    added, deleted, path = record.split("\t", 2)
    words = [path] + ([f"({marks[path]})"] if path in marks else [])
    if added == "-":
        words.append("binary")
    else:
        words += [f"+{added}"] if added != "0" else []
        words += [f"-{deleted}"] if deleted != "0" else []
    if len(words) == 1:
        words.append("mode")
    return " ".join(words)


def one_line_changes(total: str, files: list[str], limit: int = MAX_TAG_VALUE) -> str:
    """``<total>: <file>, <file>, …``, the files that fit within ``limit`` characters."""
    text = f"{total}: {', '.join(files)}"
    if len(text) <= limit:
        return text
    shown: list[str] = []
    for count, file in enumerate(files):
        more = f", … and {len(files) - count} more"
        if len(total) + 2 + len(", ".join([*shown, file])) + len(more) > limit:
            return f"{total}: {', '.join(shown)}{more}"
        shown.append(file)
    return text


def changes_total(changes: str) -> str:
    """The total of an ``autocommit.changes`` value: ``3 files changed, 10 insertions(+)``
    (before the files in the one-line form; the last line of a multi-line diffstat, as
    runs tagged before the one-line form have it)."""
    text = changes.strip()
    return text.splitlines()[-1] if "\n" in text else text.split(": ", 1)[0]
