"""How the daemon reads event paths and the user's git processes (pure logic, no daemon)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocommit.daemon.event_paths import Kind, Layout
from autocommit.gitio.gitstate import _git_subcommand, _runs_pre_commit_hook, operation_in_progress
from autocommit.gitio.repo import Worktree, find_worktree
from tests.support.git import git

_INPUTS = frozenset({"/w/repo/.git/config", "/w/repo/.git/info/exclude",
                     "/w/repo/.git/info/attributes", "/home/u/.gitconfig"})  # fmt: skip
MAIN = Layout("/w/repo", "/w/repo/.git", "/w/repo/.git", "/w/repo/.git/autocommit/cookies",
              _INPUTS)  # fmt: skip
LINKED = Layout(
    "/w/linked",
    "/w/repo/.git/worktrees/linked",
    "/w/repo/.git",
    "/w/repo/.git/worktrees/linked/autocommit/cookies",
    _INPUTS | {"/w/repo/.git/worktrees/linked/config.worktree"},
)


@pytest.mark.parametrize(
    ("layout", "path", "expected"),
    [
        (MAIN, "/w/repo/train.py", (Kind.TREE, "train.py")),
        (MAIN, "/w/repo/src/a b/ü.py", (Kind.TREE, "src/a b/ü.py")),
        (MAIN, "/w/repo/.gitignore", (Kind.TREE, ".gitignore")),
        (MAIN, "/w/repo", (Kind.NONE, "/w/repo")),
        (MAIN, "/w/repo/vendor/lib/.git/HEAD", (Kind.TREE, "vendor/lib")),
        (MAIN, "/w/repo/vendor/lib/.git/objects/ab/c", (Kind.NONE, "vendor/lib/.git/objects/ab/c")),
        (MAIN, "/w/repo/vendor/lib/.git", (Kind.NONE, "vendor/lib/.git")),
        (MAIN, "/w/repo/.git/HEAD", (Kind.GIT, "HEAD")),
        (MAIN, "/w/repo/.git/index", (Kind.GIT, "index")),
        (MAIN, "/w/repo/.git/index.lock", (Kind.GIT, "index.lock")),
        (MAIN, "/w/repo/.git/refs/heads/feature/x", (Kind.GIT, "refs/heads/feature/x")),
        (MAIN, "/w/repo/.git/rebase-merge/done", (Kind.GIT, "rebase-merge/done")),
        (MAIN, "/w/repo/.git/MERGE_HEAD", (Kind.GIT, "MERGE_HEAD")),
        (MAIN, "/w/repo/.git/modules/lib/HEAD", (Kind.GIT, "modules/lib/HEAD")),
        (MAIN, "/w/repo/.git/info/exclude", (Kind.RULES, "/w/repo/.git/info/exclude")),
        (MAIN, "/w/repo/.git/info/attributes", (Kind.RULES, "/w/repo/.git/info/attributes")),
        (MAIN, "/w/repo/.git/config", (Kind.RULES, "/w/repo/.git/config")),
        (LINKED, "/w/repo/.git/config", (Kind.RULES, "/w/repo/.git/config")),
        (
            LINKED,
            "/w/repo/.git/worktrees/linked/config.worktree",
            (Kind.RULES, "/w/repo/.git/worktrees/linked/config.worktree"),
        ),
        # the daemon's own writes, and git internals, never count
        (MAIN, "/w/repo/.git/objects/ab/cdef", (Kind.NONE, "objects/ab/cdef")),
        (
            MAIN,
            "/w/repo/.git/refs/autocommit/heads/main",
            (Kind.NONE, "refs/autocommit/heads/main"),
        ),
        (MAIN, "/w/repo/.git/logs/HEAD", (Kind.NONE, "logs/HEAD")),
        (MAIN, "/w/repo/.git/autocommit/index", (Kind.NONE, "autocommit/index")),
        (MAIN, "/w/repo/.git/FETCH_HEAD", (Kind.NONE, "FETCH_HEAD")),
        (MAIN, "/w/repo/.git/worktrees/linked/HEAD", (Kind.NONE, "worktrees/linked/HEAD")),
        (MAIN, "/w/repo/.git/autocommit/cookies/12-7", (Kind.COOKIE, "12-7")),
        # a linked worktree: its own git dir, and the branches in the common one
        (LINKED, "/w/linked/train.py", (Kind.TREE, "train.py")),
        (LINKED, "/w/linked/.git", (Kind.NONE, ".git")),
        (LINKED, "/w/repo/.git/worktrees/linked/HEAD", (Kind.GIT, "HEAD")),
        (LINKED, "/w/repo/.git/worktrees/linked/index", (Kind.GIT, "index")),
        (LINKED, "/w/repo/.git/refs/heads/main", (Kind.GIT, "refs/heads/main")),
        (LINKED, "/w/repo/.git/packed-refs", (Kind.GIT, "packed-refs")),
        (LINKED, "/w/repo/.git/HEAD", (Kind.NONE, "HEAD")),  # the main worktree's HEAD
        (LINKED, "/w/repo/.git/worktrees/linked/autocommit/cookies/1-1", (Kind.COOKIE, "1-1")),
        (LINKED, "/elsewhere/file", (Kind.NONE, "/elsewhere/file")),
    ],
)
def test_classify(layout: Layout, path: str, expected: tuple[Kind, str]) -> None:
    assert layout.classify(path) == expected


@pytest.mark.parametrize(
    ("argv", "subcommand"),
    [
        (["git", "commit", "-m", "x"], "commit"),
        (["/usr/bin/git", "-C", "/w", "-c", "a=b", "checkout", "main"], "checkout"),
        (["git", "--no-pager", "rebase", "-i", "HEAD~3"], "rebase"),
        (["git", "--git-dir", "/w/.git", "status"], "status"),
        (["git"], None),
        (["python", "commit"], None),
    ],
)
def test_git_subcommand(argv: list[str], subcommand: str | None) -> None:
    assert _git_subcommand(argv) == subcommand


@pytest.mark.parametrize(
    ("argv", "is_hook"),
    [
        (["/bin/bash", ".git/hooks/pre-commit"], True),
        (
            [
                "/venv/bin/python3",
                "-mpre_commit",
                "hook-impl",
                "--config=.pre-commit-config.yaml",
                "--hook-type=pre-commit",
                "--hook-dir",
                "/w/.git/hooks",
                "--",
            ],
            True,
        ),
        (["/venv/bin/pre-commit", "run", "--all-files"], True),
        (["python", "-m", "pre_commit", "run"], True),
        (["/venv/bin/python3", "-mpre_commit", "hook-impl", "--hook-type=post-checkout"], False),
        (["/bin/sh", ".git/hooks/post-commit"], False),
        (["vim", "pre-commit-notes.txt"], False),
    ],
)
def test_pre_commit_hook_detection(argv: list[str], is_hook: bool) -> None:
    assert _runs_pre_commit_hook(argv) is is_hook


def test_operation_in_progress(repo: Path) -> None:
    worktree: Worktree = find_worktree(repo)
    assert operation_in_progress(worktree) is None
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "train.py").write_text("lr = 'other'\n")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "train.py").write_text("lr = 'main'\n")
    git(repo, "commit", "-q", "-am", "main")
    git(repo, "merge", "other", check=False)  # conflicts: the merge stops
    assert operation_in_progress(worktree) == "merge"
