"""What a run had beyond HEAD, in one line: ``2 files changed, 3 insertions(+), 1
deletion(-): train.py +2 -1, notes.md (new) +1`` (the ``autocommit.changes`` tag)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autocommit.contract import MAX_TAG_VALUE

if TYPE_CHECKING:
    from autocommit.engine.snapshot import Snapshot
    from autocommit.gitio.repo import Worktree


def changes_since_head(worktree: Worktree, snap: Snapshot) -> str:
    """``git diff --stat`` of HEAD → snapshot, cut to fit a tag (the total line kept)."""
    key = (snap.head, snap.commit)  # the same two commits always give the same text
    if key not in _changes_memo:
        if len(_changes_memo) >= 64:
            _changes_memo.clear()
        _changes_memo[key] = _diffstat(worktree, snap)
    return _changes_memo[key]


_changes_memo: dict[tuple[str | None, str], str] = {}


def _diffstat(worktree: Worktree, snap: Snapshot) -> str:
    """One line, total first: ``2 files changed, 3 insertions(+), 1 deletion(-): train.py
    +2 -1, notes.md (new) +1``. MLflow's run page shows a tag on one line, cut to its
    start, so the total comes first and the files after it, as many as fit in a tag."""
    from autocommit.gitio import git
    from autocommit.gitio.objects import empty_tree

    base = snap.head or empty_tree(snap.commit)
    out = git.run(  # the tree: the commit may not be written yet
        ["diff", "--no-ext-diff", "--no-textconv", "--no-renames", "--numstat", "--summary",
         "--shortstat", "-z", base, snap.tree],
        worktree.root,
    ).stdout.decode(errors="surrogateescape")  # fmt: skip
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
