"""Which changed paths the daemon drops as ignored (real git, no daemon process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocommit.engine.ignored import IgnoredPaths
from tests.support.git import git as user_git


@pytest.fixture
def ignoring(repo: Path) -> Path:
    (repo / ".gitignore").write_text("build/\n*.log\nvendor/\n")
    for path in ("build/out.o", "vendor/lib.py", "vendor/kept/old.log", "train.log", "src/a.py"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("x\n")
    # Tracked although a pattern matches them: their changes must never be dropped.
    user_git(repo, "add", "-f", "vendor/lib.py", "train.log")
    user_git(repo, "add", ".gitignore", "src/a.py")
    user_git(repo, "commit", "-qm", "ignore rules")
    return repo


def test_only_untracked_ignored_paths_are_dropped(ignoring: Path) -> None:
    ignored = IgnoredPaths(ignoring)
    changed = ["src/a.py", "build/out.o", "train.log", "debug.log", "vendor/lib.py",
               "vendor/new.py", "vendor/kept/old.log", "vendor"]  # fmt: skip
    assert ignored.relevant(changed) == ["src/a.py", "train.log", "vendor", "vendor/lib.py"]


def test_a_batch_of_unignored_changes_never_reads_the_index(
    ignoring: Path, git_calls: list[list[str]]
) -> None:
    ignored = IgnoredPaths(ignoring)
    assert ignored.relevant(["src/a.py", "src/b.py", "notes.md"]) == [
        "notes.md", "src/a.py", "src/b.py",
    ]  # fmt: skip
    assert git_calls == [["check-ignore", "--no-index", "--stdin", "-z"]]


def test_ignored_paths_found_once_cost_nothing_after(
    ignoring: Path, git_calls: list[list[str]]
) -> None:
    ignored = IgnoredPaths(ignoring)
    assert ignored.relevant(["build/out.o", "debug.log", "vendor/new.py"]) == []
    assert len(git_calls) == 2  # the patterns, then the index for what they matched
    git_calls.clear()
    burst = [f"build/gen/{i}.o" for i in range(100)] + ["debug.log", "build"]
    assert ignored.relevant(burst) == []
    assert ignored.not_known_ignored(burst) == []
    assert git_calls == []
    # vendor/ holds a tracked file: its paths are asked about each time, never dropped blindly
    assert ignored.not_known_ignored(["vendor/new.py", "vendor/other.py", "vendor/lib.py"]) == [
        "vendor/lib.py", "vendor/other.py",
    ]  # fmt: skip
    assert ignored.relevant(["vendor/lib.py"]) == ["vendor/lib.py"]


def test_a_tracked_ignored_file_deleted_and_written_again_counts(ignoring: Path) -> None:
    ignored = IgnoredPaths(ignoring)
    (ignoring / "train.log").unlink()
    assert ignored.relevant(["train.log"]) == ["train.log"]
    (ignoring / "train.log").write_text("back\n")
    assert ignored.relevant(["train.log"]) == ["train.log"]


def test_forget_drops_what_was_remembered(ignoring: Path) -> None:
    ignored = IgnoredPaths(ignoring)
    assert ignored.relevant(["debug.log"]) == []
    (ignoring / "debug.log").write_text("now tracked\n")
    user_git(ignoring, "add", "-f", "debug.log")
    assert ignored.not_known_ignored(["debug.log"]) == []  # remembered until told
    ignored.forget()  # what the daemon does on the index event that follows `git add`
    assert ignored.relevant(["debug.log"]) == ["debug.log"]
