"""The shadow tip always holds the tree of the latest snapshot, clean or not, and descends
from HEAD: ``git diff HEAD <shadow ref>`` is exactly the uncommitted work."""

from __future__ import annotations

from pathlib import Path

from autocommit.engine.run_commit import run_commit_to_pin
from autocommit.engine.snapshot import CommitToPin, Snapshot, take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.daemon import rev
from tests.support.git import git, user_state
from tests.support.readme import says

SHADOW = "autocommit/heads/main"


def parents(root: Path, commit: str) -> list[str]:
    return git(root, "rev-list", "--parents", "-n1", commit).split()[1:]


def head_trailer(root: Path, commit: str) -> str:
    return git(root, "log", "-1", "--format=%(trailers:key=Autocommit-Head,valueonly)",
               commit).strip()  # fmt: skip


def assert_tip_is_clean(root: Path) -> str:
    """The shadow tip holds HEAD's tree, names HEAD, and HEAD is one of its ancestors."""
    tip = rev(root, SHADOW)
    assert tip is not None, f"{SHADOW} does not exist"
    assert rev(root, tip + "^{tree}") == rev(root, "HEAD^{tree}")
    assert head_trailer(root, tip) == rev(root, "HEAD")
    git(root, "merge-base", "--is-ancestor", "HEAD", tip)
    assert git(root, "diff", "HEAD", SHADOW) == ""
    return tip


def test_work_undone_moves_the_shadow_tip_back_to_heads_tree(repo: Path) -> None:
    says("so the tip never keeps work you undid and always links to your latest commit")
    worktree = find_worktree(repo)
    with open(repo / "train.py", "a") as handle:
        handle.write("wip\n")
    wip = take_snapshot(worktree)
    assert wip.dirty and git(repo, "diff", "--stat", "HEAD", SHADOW) != ""
    git(repo, "checkout", "--", "train.py")
    before = user_state(repo)
    clean = take_snapshot(worktree, ["train.py"])  # incremental, as the daemon asks
    assert user_state(repo) == before
    assert clean.commit == rev(repo, "HEAD") and not clean.dirty and clean.created
    assert clean.summary == "clean: the snapshot is HEAD"
    tip = assert_tip_is_clean(repo)
    assert parents(repo, tip) == [wip.commit]  # HEAD did not move: the chain goes on
    subject = git(repo, "log", "-1", "--format=%s", tip).strip()
    assert subject == "autocommit: clean: 1 file: modify train.py"
    again = take_snapshot(worktree)  # a full scan of the same clean tree: no new commit
    assert again.commit == clean.commit and not again.created
    assert rev(repo, SHADOW) == tip


def test_the_first_snapshot_of_a_clean_tree_starts_the_chain_on_head(repo: Path) -> None:
    worktree = find_worktree(repo)
    snap = take_snapshot(worktree)
    assert snap.commit == rev(repo, "HEAD") and not snap.dirty and snap.created
    tip = assert_tip_is_clean(repo)
    assert parents(repo, tip) == [snap.commit]
    subject = git(repo, "log", "-1", "--format=%s", tip).strip()
    assert subject == "autocommit: clean: no file changes"
    assert not take_snapshot(worktree).created
    git(repo, "fsck", "--strict", "--no-dangling")


def test_a_commit_that_leaves_the_tree_clean_links_the_chain_to_it(repo: Path) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.3\n")
    wip = take_snapshot(worktree)
    git(repo, "commit", "-q", "-am", "lr 0.3")  # exactly the snapshot's tree
    clean = take_snapshot(worktree)
    tip = assert_tip_is_clean(repo)
    assert clean.commit == rev(repo, "HEAD") and parents(repo, tip) == [wip.commit, clean.commit]
    (repo / "train.py").write_text("lr = 0.4\n")
    git(repo, "commit", "-q", "-am", "lr 0.4")  # a tree the chain never held
    assert take_snapshot(worktree).created
    previous, tip = tip, assert_tip_is_clean(repo)
    assert parents(repo, tip) == [previous, rev(repo, "HEAD")]
    (repo / "notes.md").write_text("dirty again\n")
    dirty = take_snapshot(worktree, ["notes.md"])
    assert parents(repo, dirty.commit) == [tip]  # HEAD is in the chain already


def test_a_clean_snapshot_pins_head_in_the_update_that_moves_the_chain(repo: Path) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.5\n")
    take_snapshot(worktree)
    git(repo, "checkout", "--", "train.py")
    asked: list[tuple[Snapshot, bytes | None]] = []

    def pin(snap: Snapshot, text: bytes | None) -> CommitToPin:
        asked.append((snap, text))
        return run_commit_to_pin(worktree, snap, text)

    clean = take_snapshot(worktree, pin=pin)
    head = rev(repo, "HEAD")
    assert [(s.commit, text) for s, text in asked] == [(head, None)]  # HEAD exists already
    assert clean.head_summary is None  # a clean run's commit is HEAD: nothing to describe
    assert rev(repo, f"refs/autocommit/pins/{head}") == head
    assert_tip_is_clean(repo)
