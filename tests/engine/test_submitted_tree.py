"""The worker's check against git itself: the tree id computed in Python from a copy
without ``.git`` equals ``git add -A`` + ``write-tree`` on the same files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from autocommit.engine.submitted_tree import MAX_NAMED, Manifest, check, manifest_of
from tests.support.git import git


def awkward(root: Path) -> None:
    """Names git sorts unlike Python (``a-b`` before ``a/``), an exec bit, symlinks (one to
    a directory), nested ``.gitignore`` files with a negation, odd characters, empty files."""
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "c.py").write_text("c\n")
    (root / "a-b").mkdir()
    (root / "a-b" / "f").write_text("f\n")
    (root / "a.txt").write_text("t\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    os.symlink("a.txt", root / "link")
    os.symlink("a", root / "dirlink")
    (root / "empty").write_bytes(b"")
    (root / "spa ce\tand ü").write_text("x\n")
    (root / ".gitignore").write_text("*.log\n/out/\n")
    (root / "a" / ".gitignore").write_text("!keep.log\n*.tmp\n")
    (root / "a" / "keep.log").write_text("kept by the deeper negation\n")
    (root / "a" / "drop.tmp").write_text("ignored\n")
    (root / "top.log").write_text("ignored\n")
    (root / "out").mkdir()
    (root / "out" / "x").write_text("ignored\n")


def git_tree(root: Path) -> str:
    git(root, "add", "-A")
    return git(root, "write-tree").strip()


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_the_tree_of_a_copy_without_git_is_gits_tree(tmp_path: Path, object_format: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", f"--object-format={object_format}")
    awkward(repo)
    tree = git_tree(repo)
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    assert check(copy, tree, None).tree == tree  # by the ignore rules alone
    manifest = Manifest.decode(manifest_of(repo, tree, []).encode())
    assert check(copy, tree, manifest).verified(tree)
    assert check(repo, tree, manifest).verified(tree)  # .git itself never counts


def test_a_tracked_ignored_file_counts_through_the_manifest(repo: Path, tmp_path: Path) -> None:
    (repo / ".gitignore").write_text("*.cfg\n")
    (repo / "model.cfg").write_text("forced\n")
    git(repo, "add", "-A")
    git(repo, "add", "-f", "model.cfg")
    tree = git(repo, "write-tree").strip()
    manifest = manifest_of(repo, tree, [])
    assert check(repo, tree, manifest).verified(tree)
    assert not check(repo, tree, None).verified(tree)  # unknowable without a manifest


def test_differences_are_named_up_to_a_bound(repo: Path) -> None:
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    manifest = manifest_of(repo, tree, ["secret.key", "vendor/"])
    (repo / "secret.key").write_text("left out at submission: not a difference\n")
    (repo / "vendor").mkdir()
    (repo / "vendor" / "x.py").write_text("a nested repository's file: neither\n")
    assert check(repo, tree, manifest).verified(tree)
    for i in range(MAX_NAMED + 5):
        (repo / f"new{i:02}.py").write_text("x\n")
    result = check(repo, tree, manifest)
    assert not result.verified(tree)
    assert len(result.differing) == MAX_NAMED and result.more == 5
    assert result.differing[0] == "new00.py (not submitted)"


def test_a_manifest_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a manifest"):
        Manifest.decode("not base64 at all!")


def test_a_tree_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for level in range(1, 1201):  # one level at a time: os.makedirs recurses
        os.mkdir(repo / "/".join(["d"] * level))
    (repo / "/".join(["d"] * 1200) / "f.txt").write_text("deep\n")
    tree = git_tree(repo)
    try:
        assert check(repo, tree, None).verified(tree)
    finally:
        subprocess.run(["rm", "-rf", "--", str(repo)], check=False)  # pytest's cleanup recurses
