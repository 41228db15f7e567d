"""Reading loose objects without git, and the run commit made from a loose or packed snapshot."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from autocommit.engine.run_commit import run_commit
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import objects
from autocommit.gitio.objects import read_loose
from autocommit.gitio.repo import find_worktree
from tests.support.git import git


def _cat_file(root: Path, sha: str) -> tuple[str, bytes]:
    kind = git(root, "cat-file", "-t", sha).strip()
    body = subprocess.run(["git", "cat-file", kind, sha], cwd=root, capture_output=True,
                          check=True).stdout  # fmt: skip
    return kind, body


def test_loose_objects_read_as_git_reads_them(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.5\n")
    snap = take_snapshot(find_worktree(repo))
    blob = git(repo, "rev-parse", f"{snap.tree}:train.py").strip()
    objects = repo / ".git" / "objects"
    for sha in (snap.commit, snap.tree, blob):
        assert read_loose(objects, sha) == _cat_file(repo, sha)


def test_packed_missing_and_malformed_names_are_left_to_git(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    objects = repo / ".git" / "objects"
    assert read_loose(objects, head) is not None
    git(repo, "gc", "-q")
    assert read_loose(objects, head) is None  # packed now
    assert read_loose(objects, "0" * 40) is None
    assert read_loose(objects, "../../config") is None
    assert read_loose(objects, head[:12]) is None


def test_run_commit_is_the_same_from_a_packed_snapshot(repo: Path) -> None:
    worktree = find_worktree(repo)
    take_snapshot(worktree)
    (repo / "train.py").write_text("lr = 0.6\n")
    snap = take_snapshot(worktree)  # a second snapshot: its parent is the first one
    from_loose = run_commit(worktree, snap)
    git(repo, "update-ref", "refs/keep/run", from_loose)
    git(repo, "gc", "-q")
    assert read_loose(repo / ".git" / "objects", snap.commit) is None
    assert run_commit(worktree, snap) == from_loose
    assert git(repo, "rev-parse", f"{from_loose}^@").split() == [
        git(repo, "rev-parse", "HEAD").strip()
    ]


def test_tree_text_is_git_s_tree_whatever_was_written_before(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tree entries are kept encoded for the next tree written (the entries along a
    changed path are mostly the same): every tree still comes out as `git mktree`
    writes it, a changed entry, a new one and a subtree sorting as ``name/`` included,
    and the kept entries are bounded."""
    monkeypatch.setattr(objects, "_MOST_ENCODED", 4)
    blob = git(repo, "hash-object", "-w", "--stdin", input=b"x\n").strip()
    other = git(repo, "hash-object", "-w", "--stdin", input=b"y\n").strip()
    sub = git(repo, "mktree", input=f"100644 blob {blob}\tinner\n".encode()).strip()
    names = ["a.txt", "a", "a-b", "b", "z\u00e9.py"]
    for round_ in range(3):
        entries = {name: objects.TreeEntry("100644", blob if round_ % 2 else other)
                   for name in names}  # fmt: skip
        entries["a"] = objects.TreeEntry(objects.TREE_MODE, sub)  # sorts as "a/"
        if round_ == 2:
            entries["new"] = objects.TreeEntry("100755", blob)
        listing = "".join(
            f"{e.mode} {'tree' if e.is_tree else 'blob'} {e.sha}\t{name}\n"
            for name, e in entries.items()
        )
        by_git = git(repo, "mktree", input=listing.encode()).strip()
        text = objects.tree_text(list(entries.items()))
        assert objects.object_id("tree", text, blob) == by_git
        assert _cat_file(repo, by_git) == ("tree", text)
        assert len(objects._ENCODED) <= 4
