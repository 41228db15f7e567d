"""The engine's API as the daemon, the plugin and the CLI use it."""

from __future__ import annotations

import json
from pathlib import Path

from autocommit.engine import snapshot
from autocommit.engine.history import snapshots
from autocommit.engine.snapshot import Snapshot, take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.cli import run_cli
from tests.support.git import git, tree_listing
from tests.support.oracle import assert_exact


def test_snapshot_round_trips_through_json(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.2\n")
    (repo / "id_rsa").write_text("key\n")
    snap = take_snapshot(find_worktree(repo))
    again = Snapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    assert again == snap and again.skipped[0].path == "id_rsa"


def test_paths_may_be_absolute_or_path_objects(repo: Path) -> None:
    worktree = find_worktree(repo)
    take_snapshot(worktree)
    (repo / "train.py").write_text("lr = 0.3\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "new.py").write_text("new\n")
    snap = take_snapshot(worktree, [repo / "train.py", Path("sub/new.py"), "./sub/"])
    assert not snap.reconciled
    assert_exact(repo, snap.tree)


def test_no_changed_paths_reuses_the_last_snapshot(repo: Path) -> None:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.4\n")
    first = take_snapshot(worktree)
    again = take_snapshot(worktree, [])
    assert again.commit == first.commit and not again.created and not again.reconciled
    assert again.summary == "unchanged since the last snapshot"


def test_log_lists_the_chain_with_what_changed(repo: Path) -> None:
    worktree = find_worktree(repo)
    for i in range(3):
        (repo / f"step{i}.py").write_text(f"step = {i}\n")
        take_snapshot(worktree, [f"step{i}.py"])
    (repo / ".env").write_text("SECRET=1\n")
    (repo / "step0.py").write_text("step = 'last'\n")
    last = take_snapshot(worktree, [".env", "step0.py"])
    entries = snapshots(worktree, "refs/autocommit/heads/main")
    assert entries[0].commit == last.commit and len(entries) == 4
    assert entries[0].skipped == [".env (secret-looking name)"]
    assert entries[1].summary == "1 file: add step2.py" and entries[1].files_changed == 1
    (repo / ".env").write_text("SECRET=2\n")  # only a left-out file changed: same tree
    reused = take_snapshot(worktree, [".env"])
    assert reused.commit == last.commit and reused.skipped == last.skipped
    shown = run_cli(repo, "log", "--json")
    assert shown.returncode == 0 and len(json.loads(shown.stdout)) == 4
    table = run_cli(repo, "log")
    assert last.commit[:12] in table.stdout


def test_summary_names_the_changes(repo: Path) -> None:
    worktree = find_worktree(repo)
    take_snapshot(worktree)
    (repo / "README.md").unlink()
    (repo / "train.py").write_text("changed\n")
    (repo / "a").mkdir()
    for name in ("x.py", "y.py"):
        (repo / "a" / name).write_text(name)
    (repo / "link").symlink_to("train.py")
    snap = take_snapshot(worktree, ["README.md", "train.py", "a", "link"])
    assert snap.summary == "5 files: delete README.md, add a/x.py, add a/y.py and 2 more"
    (repo / "link").unlink()
    (repo / "link").write_text("now a file\n")
    retyped = take_snapshot(worktree, ["link"])
    assert retyped.summary == "1 file: retype link"
    assert "autocommit: 1 file: retype link" in git(
        repo, "log", "-1", "--format=%B", "autocommit/heads/main"
    )
    assert tree_listing(repo, retyped.tree)["link"][0] == "100644"


def test_a_big_change_is_summarized_as_git_lists_it(repo: Path) -> None:
    """Past the trees the engine reads itself, git lists the changes (one at a time):
    the same line; and for the run commit the first three by path however listed."""
    worktree = find_worktree(repo)
    before = take_snapshot(worktree)
    (repo / "README.md").unlink()
    (repo / "b").mkdir()
    for name in ("z.py", "b/y.py", "b/x.py", "a.py"):
        (repo / name).write_text(name)
    after = take_snapshot(worktree, ["README.md", "z.py", "b", "a.py"])
    assert after.summary == "5 files: delete README.md, add a.py, add b/x.py and 2 more"
    listed = snapshot.changes_since(worktree, before.tree, after.tree)
    assert snapshot.summarize(listed) == after.summary
    changes = [("A", "z.py"), ("M", "b/y.py"), ("D", "a.py"), ("A", "b/x.py")]
    by_path = snapshot.summarize(changes, in_path_order=True)
    assert by_path == "4 files: delete a.py, add b/x.py, modify b/y.py and 1 more"
    assert snapshot.summarize(iter(changes)).startswith("4 files: add z.py, modify b/y.py")
    assert snapshot.summarize([]) == "no file changes"
