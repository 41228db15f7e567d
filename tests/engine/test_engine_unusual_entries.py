"""Entries that git treats specially, through the full scan (CLI and in process) and the
incremental path (as the daemon drives it: kept git processes, the index's flags known):
skip-worktree and assume-unchanged entries, sparse checkouts, FIFOs where tracked files
were, names that look like pathspec magic, trees hundreds of levels deep. The oracle:
``git add -A`` into a throwaway copy of the index, minus what is reported left out."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest

from autocommit.engine.kept_processes import GitPipes
from autocommit.engine.snapshot import Snapshot, take_snapshot
from autocommit.gitio.repo import find_worktree
from autocommit.settings.config import Settings
from tests.support.cli import run_cli
from tests.support.engine import sparse_repo
from tests.support.git import git, tree_listing, user_state
from tests.support.oracle import assert_exact, expected_tree


def cli_snapshot(root: Path) -> dict[str, object]:
    done = run_cli(root, "snapshot", "--json")
    assert done.returncode == 0, done.stderr
    taken: dict[str, object] = json.loads(done.stdout)
    return taken


def left_out(snap: Snapshot) -> dict[str, str]:
    return {s.path: s.reason for s in snap.skipped}


def check(root: Path, snap: Snapshot) -> None:
    assert snap.tree == expected_tree(root, left_out(snap))
    assert_exact(root, snap.tree)


class Snapper:
    """Snapshots in process: each with its own git processes, or (``kept``) with git
    processes kept between snapshots as the daemon keeps them (its full scans then also
    record what the index flags)."""

    def __init__(self, root: Path, kept: bool) -> None:
        self.worktree = find_worktree(root)
        self.pipes = GitPipes(self.worktree, kept=True) if kept else None

    def __call__(self, paths: list[str] | None = None) -> Snapshot:
        return take_snapshot(self.worktree, paths, Settings(), pipes=self.pipes)

    def close(self) -> None:
        if self.pipes is not None:
            self.pipes.close()


@pytest.mark.parametrize("sparse_index", [False, True], ids=["full-index", "sparse-index"])
@pytest.mark.parametrize("kept", [False, True], ids=["in-process", "daemon-pipes"])
def test_sparse_checkout_keeps_files_outside_the_cone(
    tmp_path: Path, kept: bool, sparse_index: bool
) -> None:
    root = sparse_repo(tmp_path / "sparse", sparse_index)
    with contextlib.closing(Snapper(root, kept)) as snap_of:
        first = snap_of(None)
        assert first.commit == first.head  # nothing changed: out of cone is not deleted
        (root / "data").mkdir()
        (root / "data" / "notes.txt").write_text("n\n")
        before = user_state(root)
        snap = snap_of(["data", "data/notes.txt"])
        assert not snap.reconciled
        listing = tree_listing(root, snap.tree)
        assert {"data/f1.txt", "data/f2.txt", "data/f3.txt", "data/notes.txt"} <= set(listing)
        check(root, snap)
        (root / "data" / "f1.txt").write_text("out of cone, but here\n")  # as git add --sparse
        snap = snap_of(["data/f1.txt"])
        check(root, snap)
        full = snap_of(None)
        assert full.tree == snap.tree
        after = user_state(root)
        assert after.git_state == before.git_state


def test_sparse_checkout_from_the_cli(tmp_path: Path) -> None:
    root = sparse_repo(tmp_path / "sparse")
    (root / "data").mkdir()
    (root / "data" / "notes.txt").write_text("n\n")
    taken = cli_snapshot(root)
    assert taken["tree"] == expected_tree(root)
    assert "data/f2.txt" in tree_listing(root, str(taken["tree"]))


@pytest.mark.parametrize("flag", ["--skip-worktree", "--assume-unchanged"])
@pytest.mark.parametrize("kept", [False, True], ids=["in-process", "daemon-pipes"])
def test_flagged_entries_keep_the_index_version(repo: Path, flag: str, kept: bool) -> None:
    (repo / "local.cfg").write_text("committed\n")
    (repo / "gone.cfg").write_text("committed\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "configs")
    git(repo, "update-index", flag, "local.cfg", "gone.cfg")
    with contextlib.closing(Snapper(repo, kept)) as snap_of:
        snap_of(None)
        (repo / "local.cfg").write_text("my own settings\n")
        (repo / "gone.cfg").unlink()
        (repo / "train.py").write_text("lr = 5\n")
        paths = ["local.cfg", "gone.cfg", "train.py"]
        for snap in (snap_of(paths),
                     snap_of(None)):  # fmt: skip
            listing = tree_listing(repo, snap.tree)
            head = tree_listing(repo, "HEAD")
            assert listing["local.cfg"] == head["local.cfg"]
            assert listing["gone.cfg"] == head["gone.cfg"]
            check(repo, snap)
    taken = cli_snapshot(repo)
    assert taken["tree"] == expected_tree(repo)


def test_flag_set_after_the_full_scan_is_followed(repo: Path) -> None:
    with contextlib.closing(Snapper(repo, True)) as snap_of:
        snap_of(None)
        git(repo, "update-index", "--assume-unchanged", "train.py")
        (repo / "train.py").write_text("lr = 7\n")
        snap = snap_of(["train.py"])
        assert tree_listing(repo, snap.tree)["train.py"] == tree_listing(repo, "HEAD")["train.py"]
        check(repo, snap)


@pytest.mark.parametrize("kept", [False, True], ids=["in-process", "daemon-pipes"])
def test_fifo_where_a_tracked_file_was(repo: Path, kept: bool) -> None:
    with contextlib.closing(Snapper(repo, kept)) as snap_of:
        snap_of(None)
        (repo / "train.py").unlink()
        os.mkfifo(repo / "train.py")
        os.mkfifo(repo / "untracked.pipe")  # git never lists one: absent, not reported
        (repo / "README.md").write_text("changed\n")
        paths = ["train.py", "untracked.pipe", "README.md"]
        for snap in (snap_of(paths),
                     snap_of(None)):  # fmt: skip
            assert left_out(snap) == {"train.py": "a FIFO, not a regular file"}
            listing = tree_listing(repo, snap.tree)
            assert listing["train.py"] == tree_listing(repo, "HEAD")["train.py"]
            assert "untracked.pipe" not in listing
            check(repo, snap)
        (repo / "train.py").unlink()
        (repo / "train.py").write_text("back to a file\n")
        snap = snap_of(["train.py"])
        assert left_out(snap) == {}
        check(repo, snap)


@pytest.mark.parametrize("kept", [False, True], ids=["in-process", "daemon-pipes"])
def test_a_directory_where_a_tracked_file_was(repo: Path, kept: bool) -> None:
    """The file is gone and the directory's files are new: both oracles agree."""
    with contextlib.closing(Snapper(repo, kept)) as snap_of:
        snap_of(None)
        (repo / "train.py").unlink()
        (repo / "train.py").mkdir()
        (repo / "train.py" / "inner.py").write_text("inside\n")
        for snap in (snap_of(["train.py", "train.py/inner.py"]),
                     snap_of(None)):  # fmt: skip
            listing = tree_listing(repo, snap.tree)
            assert "train.py" not in listing and "train.py/inner.py" in listing
            check(repo, snap)


def test_fifo_from_the_cli(repo: Path) -> None:
    git(repo, "config", "autocommit.enabled", "true")
    (repo / "train.py").unlink()
    os.mkfifo(repo / "train.py")
    taken = cli_snapshot(repo)
    assert taken["skipped"] == [{"path": "train.py", "reason": "a FIFO, not a regular file"}]
    assert taken["tree"] == expected_tree(repo, ["train.py"])


MAGIC_NAMES = [":!y", ":(glob)**", ":x.py", "a*b.py", "!bang.py", "[ab].py", "new\nline.py",
               ":(exclude)train.py", "sub/:(top)z.py", "*"]  # fmt: skip


@pytest.mark.parametrize("kept", [False, True], ids=["in-process", "daemon-pipes"])
def test_names_that_look_like_pathspec_magic(repo: Path, kept: bool) -> None:
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "sub").mkdir()
    with contextlib.closing(Snapper(repo, kept)) as snap_of:
        snap_of(None)
        for name in MAGIC_NAMES:
            (repo / name).write_text(f"{name}\n")
        (repo / ":ignored.log").write_text("ignored\n")
        snap = snap_of([*MAGIC_NAMES, ":ignored.log"])
        assert not snap.reconciled
        listing = tree_listing(repo, snap.tree)
        assert set(MAGIC_NAMES) <= set(listing) and ":ignored.log" not in listing
        check(repo, snap)
        git(repo, "--literal-pathspecs", "add", "--", *MAGIC_NAMES)  # tracked now
        git(repo, "commit", "-q", "-m", "odd names")
        (repo / "sub").rename(repo / "moved")
        snap = snap_of(["sub", "moved"])
        check(repo, snap)
        assert snap_of(None).tree == snap.tree


DEPTH = 1200  # deeper than Python's default recursion limit (1000)


def make_deep(root: Path, depth: int) -> str:
    """``d/d/…/d`` (``depth`` levels) under ``root``, made one level at a time (pathlib's
    and os.makedirs' own recursion would not get there)."""
    deep = "/".join(["d"] * depth)
    for level in range(1, depth + 1):
        os.mkdir(root / "/".join(["d"] * level))
    return deep


@pytest.mark.parametrize("kept", [False, True], ids=["in-process", "daemon-pipes"])
def test_a_file_hundreds_of_directories_deep(repo: Path, kept: bool) -> None:
    deep = make_deep(repo, DEPTH)
    (repo / deep / "f.txt").write_text("deep\n")
    with contextlib.closing(Snapper(repo, kept)) as snap_of:
        snap = snap_of(None)
        assert snap.summary == f"1 file: add {deep}/f.txt"
        check(repo, snap)
        (repo / deep / "f.txt").write_text("deeper\n")
        (repo / deep / "g.txt").write_text("new\n")
        snap = snap_of([f"{deep}/f.txt", f"{deep}/g.txt"])  # fmt: skip
        assert not snap.reconciled
        check(repo, snap)


def test_a_deep_tree_from_the_cli(repo: Path) -> None:
    git(repo, "config", "autocommit.enabled", "true")
    deep = make_deep(repo, 500)
    (repo / deep / "f.txt").write_text("deep\n")
    for _ in range(2):  # the second one diffs against the first
        taken = cli_snapshot(repo)
        assert taken["tree"] == expected_tree(repo)
        (repo / deep / "f.txt").write_text("again\n")
