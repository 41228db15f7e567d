"""The daemon's path for entries git treats specially: a sparse checkout's files outside
the cone, FIFOs where tracked files were, names that look like pathspec magic, a file
hundreds of directories deep. Each sync answers the exact tree (git add -A into a copy
of the index, minus what is reported left out)."""

from __future__ import annotations

import os
from pathlib import Path

from autocommit.daemon import client
from autocommit.gitio.repo import Worktree
from tests.support.daemon import enable, stop_for_sure
from tests.support.engine import sparse_repo
from tests.support.git import tree_listing
from tests.support.oracle import expected_tree


def synced(worktree: Worktree, timeout: float = 30) -> tuple[str, dict[str, str]]:
    snap = client.sync(worktree, timeout=timeout)
    assert snap is not None
    assert client.status(worktree)["last_error"] is None
    return snap.tree, {s.path: s.reason for s in snap.skipped}


def test_sparse_checkout_with_the_daemon(tmp_path: Path) -> None:
    root = sparse_repo(tmp_path / "sparse")
    worktree = enable(root)
    client.start(worktree)
    try:
        (root / "data").mkdir()
        (root / "data" / "notes.txt").write_text("n\n")
        tree, _ = synced(worktree)
        assert {"data/f1.txt", "data/f2.txt", "data/f3.txt", "data/notes.txt"} <= set(
            tree_listing(root, tree)
        )
        assert tree == expected_tree(root)
        (root / "app" / "main.py").write_text("changed\n")
        tree, _ = synced(worktree)
        assert tree == expected_tree(root)
    finally:
        stop_for_sure(worktree)


def test_fifo_and_magic_names_with_the_daemon(daemon: Worktree) -> None:
    root = daemon.root
    synced(daemon)
    (root / "train.py").unlink()
    os.mkfifo(root / "train.py")
    for name in (":!y", ":(glob)**", "a*b", "new\nline", "[x]"):
        (root / name).write_text(name + "\n")
    tree, skipped = synced(daemon)
    assert skipped == {"train.py": "a FIFO, not a regular file"}
    assert tree == expected_tree(root, skipped)
    assert tree_listing(root, tree)["train.py"] == tree_listing(root, "HEAD")["train.py"]


def test_deep_tree_with_the_daemon(repo: Path) -> None:
    for level in range(1, 501):
        os.mkdir(repo / "/".join(["d"] * level))
    deep = repo / "/".join(["d"] * 500) / "f.txt"
    deep.write_text("deep\n")
    worktree = enable(repo)
    client.start(worktree)  # its first full scan and tree diff reach the bottom
    try:
        for text in ("again\n", "and again\n"):
            tree, _ = synced(worktree)
            assert tree == expected_tree(repo)
            deep.write_text(text)
        for level in range(1, 501):  # created while watched: 500 changed paths
            os.mkdir(repo / "/".join(["e"] * level))
        (repo / "/".join(["e"] * 500) / "g.txt").write_text("deep too\n")
        tree, _ = synced(worktree)
        assert tree == expected_tree(repo)
    finally:
        stop_for_sure(worktree)
