"""The user's git commands while the daemon runs: they never fail, shadow refs follow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autocommit.daemon import client
from autocommit.gitio.repo import Worktree
from tests.support.daemon import rev, wait_for, wait_for_exact_snapshot
from tests.support.git import git, tree_listing, user_state
from tests.support.oracle import assert_exact, expected_tree


class Typist:
    """Keeps editing a file in the background, as a user in an editor would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            self.path.write_text(f"scratch {i}\n")
            i += 1
            time.sleep(0.01)

    def __enter__(self) -> Typist:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_branch_switch_commit_and_stash_follow(daemon: Worktree) -> None:
    root = daemon.root
    with Typist(root / "scratch.txt"):  # constant file activity during every command
        git(root, "checkout", "-q", "-b", "feature")
        (root / "train.py").write_text("lr = 0.2  # feature\n")
        snap = client.sync(daemon)
        assert snap is not None and snap.shadow_ref == "refs/autocommit/heads/feature"
        assert git(root, "show", f"{snap.commit}:train.py") == "lr = 0.2  # feature\n"

        git(root, "add", "train.py")
        git(root, "commit", "-q", "-m", "feature lr")
        head = git(root, "rev-parse", "HEAD").strip()
        (root / "model.py").write_text("layers = 2\n")
        snap = client.sync(daemon)
        assert snap is not None and snap.head == head
        git(root, "merge-base", "--is-ancestor", head, snap.commit)

        (root / "train.py").write_text("lr = 0.25  # to stash\n")
        git(root, "stash", "push", "-q")
        git(root, "stash", "pop", "-q")
        git(root, "checkout", "-q", "--", "train.py")
        git(root, "checkout", "-q", "main")
        (root / "README.md").write_text("# back on main\n")
    commit = wait_for_exact_snapshot(root, "autocommit/heads/main")
    assert git(root, "show", f"{commit}:README.md") == "# back on main\n"
    git(root, "merge-base", "--is-ancestor", "HEAD", commit)
    assert rev(root, "autocommit/heads/feature") is not None


def test_stash_everything_gives_a_clean_snapshot(daemon: Worktree) -> None:
    root = daemon.root
    (root / "train.py").write_text("lr = 0.9\n")
    assert client.sync(daemon) is not None
    git(root, "stash", "-q")
    snap = client.sync(daemon)
    assert snap is not None and not snap.dirty and snap.reconciled  # a git operation: a full scan
    assert snap.commit == git(root, "rev-parse", "HEAD").strip()
    assert git(root, "diff", "HEAD", "autocommit/heads/main") == ""  # the tip follows


def test_an_edit_undone_brings_the_shadow_tip_back_to_heads_tree(daemon: Worktree) -> None:
    root = daemon.root
    (root / "notes.md").write_text("an untracked thought\n")
    snap = client.sync(daemon)
    assert snap is not None and snap.dirty
    (root / "notes.md").unlink()  # one file event, nothing of git's: an incremental snapshot
    snap = client.sync(daemon)
    assert snap is not None and not snap.dirty and not snap.reconciled
    assert snap.commit == git(root, "rev-parse", "HEAD").strip()
    assert git(root, "diff", "HEAD", "autocommit/heads/main") == ""
    git(root, "merge-base", "--is-ancestor", "HEAD", "autocommit/heads/main")


def test_rebase_while_editing(daemon: Worktree) -> None:
    root = daemon.root
    git(root, "checkout", "-q", "-b", "topic")
    for i in range(5):
        (root / f"step{i}.py").write_text(f"step = {i}\n")
        git(root, "add", f"step{i}.py")
        git(root, "commit", "-q", "-m", f"step {i}")
    git(root, "checkout", "-q", "main")
    (root / "README.md").write_text("# upstream change\n")
    git(root, "commit", "-q", "-am", "upstream")
    git(root, "checkout", "-q", "topic")
    with Typist(root / "notes.txt"):
        for _ in range(3):
            git(root, "rebase", "-q", "main")
            git(root, "rebase", "-q", "HEAD~1", "--onto", "HEAD~2")  # rewrite the tip again
    snap = client.sync(daemon)
    assert snap is not None and snap.shadow_ref == "refs/autocommit/heads/topic"
    assert snap.head == git(root, "rev-parse", "HEAD").strip()
    git(root, "merge-base", "--is-ancestor", "HEAD", snap.commit)
    assert snap.tree == expected_tree(root)


def test_notify_from_a_hook_reconciles(daemon: Worktree) -> None:
    root = daemon.root
    before = client.status(daemon)["snapshots_created"]
    assert client.notify(daemon, "post-checkout", ["0" * 40, "1" * 40, "1"])
    wait_for(lambda: client.status(daemon)["pending_changes"] == 0, what="the reconcile")
    assert client.status(daemon)["snapshots_created"] == before  # nothing changed: no commit
    (root / "train.py").write_text("lr = 3\n")
    assert client.notify(daemon, "post-commit")
    wait_for_exact_snapshot(root)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pre_commit_stash_is_waited_out(daemon: Worktree) -> None:
    """pre-commit stashes unstaged changes while its hooks run: never snapshot that state."""
    root = daemon.root
    (root / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: local\n  hooks:\n  - id: slow\n    name: slow\n"
        f"    entry: {sys.executable} -c 'import time; time.sleep(2.5)'\n"
        "    language: system\n    pass_filenames: false\n    always_run: true\n"
    )
    pre_commit = Path(sys.executable).parent / "pre-commit"
    env = {**os.environ, "PRE_COMMIT_HOME": str(root.parent / "pre-commit-home")}
    subprocess.run([str(pre_commit), "install"], cwd=root, env=env, check=True, capture_output=True)
    git(root, "add", ".pre-commit-config.yaml")
    git(root, "commit", "-q", "--no-verify", "-m", "pre-commit config")
    (root / "train.py").write_text("lr = 0.4  # staged\n")
    git(root, "add", "train.py")
    (root / "train.py").write_text("lr = 0.4  # staged\nunstaged = True\n")
    wait_for_exact_snapshot(root)
    before = set(git(root, "rev-list", "autocommit/heads/main").split())

    done = subprocess.run(
        ["git", "commit", "-q", "-m", "lr"], cwd=root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Stashing unstaged files" in done.stdout + done.stderr
    commit = wait_for_exact_snapshot(root)
    new = set(git(root, "rev-list", "autocommit/heads/main").split()) - before
    for sha in new:  # no snapshot of the stashed (unstaged changes missing) state
        if sha == git(root, "rev-parse", "HEAD").strip():
            continue
        assert "unstaged = True" in git(root, "show", f"{sha}:train.py"), sha
    assert "unstaged = True" in git(root, "show", f"{commit}:train.py")
    assert tree_listing(root, commit)["train.py"] != tree_listing(root, "HEAD")["train.py"]


def test_submodule_checkout_moves_the_gitlink(daemon: Worktree, tmp_path: Path) -> None:
    root = daemon.root
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q")
    for version in ("1", "2"):
        (library / "version.txt").write_text(version)
        git(library, "add", "version.txt")
        git(library, "commit", "-q", "-m", f"v{version}")
    git(root, "submodule", "add", "-q", str(library), "lib")
    git(root, "commit", "-q", "-m", "add lib")
    first = git(library, "rev-parse", "HEAD~1").strip()
    git(root / "lib", "checkout", "-q", first)  # only the submodule's HEAD moves
    commit = wait_for_exact_snapshot(root)
    assert tree_listing(root, commit)["lib"] == ("160000", first)


def test_index_rewrites_that_track_the_same_cost_no_full_scan(daemon: Worktree) -> None:
    root = daemon.root
    (root / "train.py").write_text("lr = 0.1\n")
    first = client.sync(daemon)
    assert first is not None
    # What an IDE's `git status` does all day: rewrite the index to refresh stat data.
    for round_ in range(3):
        os.utime(root / "README.md", (time.time() - 100 - round_,) * 2)  # unchanged content
        index_before = (root / ".git" / "index").stat().st_ino
        git(root, "update-index", "-q", "--refresh")
        assert (root / ".git" / "index").stat().st_ino != index_before  # a new file
        (root / "notes.md").write_text(f"round {round_}\n")
        before = user_state(root)
        snap = client.sync(daemon)
        assert user_state(root) == before  # the index is read to compare, never written
        assert snap is not None and not snap.reconciled, "a rewritten index is not a scan"
        assert snap.tree == expected_tree(root)
    # What changes what is tracked still counts: a force-added ignored file, then untracked.
    (root / ".gitignore").write_text("*.log\n")
    (root / "debug.log").write_text("kept once tracked\n")
    assert "debug.log" not in tree_listing(root, client.sync(daemon).commit)  # type: ignore[union-attr]
    git(root, "add", "-f", "debug.log")
    tracked = client.sync(daemon)
    assert tracked is not None and tracked.reconciled
    assert "debug.log" in tree_listing(root, tracked.commit)
    assert_exact(root, tracked.tree)  # tracked files count even where ignore rules match
    git(root, "rm", "-q", "--cached", "debug.log")
    untracked = client.sync(daemon)
    assert untracked is not None and "debug.log" not in tree_listing(root, untracked.commit)
    assert_exact(root, untracked.tree)
