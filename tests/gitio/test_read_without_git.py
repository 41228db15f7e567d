"""Refs and objects read without starting git say what git says."""

from __future__ import annotations

import contextlib
from pathlib import Path

from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import refs
from autocommit.gitio.objects import ObjectReader
from autocommit.gitio.repo import find_worktree
from tests.support.git import git


def _rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).strip()


def test_refs_loose_packed_and_missing(repo: Path) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.1\n")
    snap = take_snapshot(worktree)
    git(repo, "branch", "feature")
    git(repo, "pack-refs", "--all")  # every ref now only in packed-refs
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    for ref in ("refs/heads/main", "refs/heads/feature", snap.shadow_ref):
        assert refs.read_ref(worktree, ref) == _rev(repo, ref)
    git(repo, "commit", "-q", "--allow-empty", "-m", "loose again")  # a loose ref wins
    assert refs.read_ref(worktree, "refs/heads/main") == _rev(repo, "HEAD")
    assert refs.read_ref(worktree, "refs/heads/nothing") is None
    assert refs.read_ref(worktree, "refs/heads/mai") is None  # a prefix of a packed ref
    assert refs.read_ref(worktree, "refs/tags/v1") is None  # not one autocommit reads itself


def test_questions_asked_ahead_get_their_own_answers(repo: Path) -> None:
    git(repo, "gc", "-q")  # packed: answered by cat-file
    head, tree = _rev(repo, "HEAD"), _rev(repo, "HEAD^{tree}")
    with contextlib.closing(ObjectReader(repo, repo / ".git" / "objects")) as reader:
        by_name = reader.ask_commit("refs/heads/main")
        missing = reader.ask("refs/heads/nothing")
        by_id = reader.ask(tree)
        found = by_id()  # answered out of order
        assert found is not None and found[:2] == (tree, "tree")
        assert missing() is None
        commit = by_name()
        assert commit is not None and (commit.sha, commit.tree) == (head, tree)
        assert reader.commit(head) == commit  # read again: the same


def test_tree_ids_computed_for_one_request_agree_with_git(repo: Path) -> None:
    from autocommit.engine.tree_edit import TreeWriter, _Node
    from autocommit.gitio.objects import GITLINK_MODE, TreeEntry

    blob = git(repo, "hash-object", "-w", "--stdin", input=b"x\n").strip()
    link = git(repo, "hash-object", "-w", "--stdin", input=b"target").strip()
    head = _rev(repo, "HEAD")
    inner = _Node({"deep.txt": TreeEntry("100644", blob)})
    # A directory sorts as if its name ended in "/": after "a-b" and "a.b", before "a0".
    names = ["a0", "a.b", "a-b", "ä ü", "run.sh", "link", "sub", "tab\there", "b"]
    root = _Node({name: TreeEntry("100644", blob) for name in names})
    root.entries.update({"a": inner, "run.sh": TreeEntry("100755", blob),
                         "link": TreeEntry("120000", link), "sub": TreeEntry(GITLINK_MODE, head),
                         "empty": _Node()})  # fmt: skip
    writer = TreeWriter(repo)
    try:
        sha = writer.write(root)  # raises if git's ids differ from the computed ones
    finally:
        writer.close()
    assert sha is not None
    listed = git(repo, "ls-tree", "--name-only", "-z", sha).split("\0")[:-1]
    assert listed == ["a-b", "a.b", "a", "a0", "b", "link", "run.sh", "sub", "tab\there", "ä ü"]
    assert git(repo, "cat-file", "-t", f"{sha}:a").strip() == "tree"
    git(repo, "fsck", "--strict", "--no-dangling")
