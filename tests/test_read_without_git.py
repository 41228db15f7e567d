"""Refs and objects read without starting git say what git says."""

from __future__ import annotations

from pathlib import Path

from autocommit import refs
from autocommit.objects import ObjectReader
from autocommit.repo import find_worktree
from autocommit.snapshot import take_snapshot
from tests.gitutil import git


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
    with ObjectReader(repo, repo / ".git" / "objects") as reader:
        by_name = reader.ask_commit("refs/heads/main")
        missing = reader.ask("refs/heads/nothing")
        by_id = reader.ask(tree)
        assert by_id() is not None and by_id()[:2] == (tree, "tree")  # answered out of order
        assert missing() is None
        commit = by_name()
        assert commit is not None and (commit.sha, commit.tree) == (head, tree)
        assert reader.commit(head) == commit  # read again: the same
