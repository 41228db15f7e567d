"""First checks of the snapshot engine through the CLI, on a real repository."""

from __future__ import annotations

from pathlib import Path

from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.cli import run_cli
from tests.support.git import git, tree_listing, user_state


def test_clean_tree_snapshot_is_head(repo: Path) -> None:
    snap = take_snapshot(find_worktree(repo))
    assert snap.commit == git(repo, "rev-parse", "HEAD").strip() and not snap.dirty
    # The shadow branch starts all the same, holding HEAD's tree.
    assert snap.created and git(repo, "diff", "HEAD", "autocommit/heads/main") == ""


def test_dirty_tree_goes_to_shadow_branch_only(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.01\n")
    (repo / "notes.md").write_text("try a smaller lr\n")
    before = user_state(repo)
    done = run_cli(repo, "snapshot")
    assert done.returncode == 0, done.stderr
    sha = done.stdout.strip()
    assert git(repo, "rev-parse", "autocommit/heads/main").strip() == sha
    listing = tree_listing(repo, sha)
    assert set(listing) == {"train.py", "README.md", "notes.md"}
    assert git(repo, "show", f"{sha}:train.py") == "lr = 0.01\n"
    git(repo, "merge-base", "--is-ancestor", "HEAD", sha)
    assert user_state(repo) == before


def test_not_a_repository_is_a_one_line_error(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "snapshot")
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "not a git repository" in done.stderr


def test_snapshot_pin_keeps_this_code_and_nothing_before_it(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.05\n")
    assert run_cli(repo, "snapshot").returncode == 0
    (repo / "train.py").write_text("lr = 0.01\n")
    done = run_cli(repo, "snapshot", "--pin")
    assert done.returncode == 0, done.stderr
    pinned = done.stdout.strip()
    head = git(repo, "rev-parse", "HEAD").strip()
    tip = git(repo, "rev-parse", "autocommit/heads/main").strip()
    assert pinned != tip
    assert git(repo, "rev-parse", f"{pinned}^{{tree}}") == git(repo, "rev-parse", f"{tip}^{{tree}}")
    assert git(repo, "rev-list", "--parents", "-n1", pinned).split() == [pinned, head]
    assert git(repo, "rev-parse", f"refs/autocommit/pins/{pinned}").strip() == pinned
    # Pinning again gives the same commit: the run commit is made from the snapshot alone.
    again = run_cli(repo, "snapshot", "--pin")
    assert again.stdout.strip() == pinned
