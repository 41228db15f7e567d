"""Settings loaded again and again (the MLflow plugin, at every run): no ``git config``
process while no settings file changed, and every change seen at the next load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autocommit.gitio.repo import Worktree, find_worktree
from autocommit.settings import config
from tests.support.git import age
from tests.support.git import git as user_git


@pytest.fixture
def worktree(repo: Path) -> Worktree:
    (repo / "pyproject.toml").write_text('[tool.autocommit]\nmax_wait = "1s"\n')
    user_git(repo, "config", "autocommit.exclude", "*.csv")
    age(repo / "pyproject.toml", repo / ".git" / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))
    return find_worktree(repo)


def test_unchanged_files_are_not_read_again(worktree: Worktree, git_calls: list[list[str]]) -> None:
    first = config.load_cached(worktree)
    assert first == config.load(worktree.root)
    assert first.max_wait == 1.0 and first.exclude == ("*.csv",)
    git_calls.clear()
    assert config.load_cached(worktree) == first
    assert git_calls == []


def test_every_source_changed_is_seen(worktree: Worktree, monkeypatch: pytest.MonkeyPatch) -> None:
    root = worktree.root
    global_config = Path(os.environ["GIT_CONFIG_GLOBAL"])

    def after_change(*changed: Path) -> config.Settings:
        """Only the changed files' stat tells the change: they are settled before loading."""
        age(*changed)
        return config.load_cached(worktree)

    assert after_change().max_wait == 1.0
    (root / "pyproject.toml").write_text('[tool.autocommit]\nmax_wait = "2s"\n')  # same size
    assert after_change(root / "pyproject.toml").max_wait == 2.0
    user_git(root, "config", "autocommit.exclude", "*.tsv")
    assert after_change(root / ".git" / "config").exclude == ("*.tsv",)
    (root / ".autocommit.toml").write_text("daemon = false\n")
    assert not after_change(root / ".autocommit.toml").daemon
    with global_config.open("a") as handle:
        handle.write("[autocommit]\n\tremote = team\n")
    assert after_change(global_config).remote == "team"
    monkeypatch.setenv("AUTOCOMMIT_REMOTE", "mine")
    assert after_change().remote == "mine"
    monkeypatch.delenv("AUTOCOMMIT_REMOTE")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(root / "elsewhere.gitconfig"))
    assert after_change().remote == "origin"  # another global file: read anew


def test_files_written_just_now_are_read_every_time(
    worktree: Worktree, git_calls: list[list[str]]
) -> None:
    user_git(worktree.root, "config", "autocommit.autostart", "true")  # written now
    config.load_cached(worktree)
    git_calls.clear()
    assert config.load_cached(worktree).autostart
    assert len(git_calls) == 1


def test_config_that_includes_other_files_is_read_every_time(
    worktree: Worktree, git_calls: list[list[str]]
) -> None:
    included = worktree.root.parent / "team.gitconfig"
    included.write_text("[autocommit]\n\tremote = team\n")
    user_git(worktree.root, "config", "include.path", str(included))
    age(worktree.root / ".git" / "config", included)
    assert config.load_cached(worktree).remote == "team"
    included.write_text("[autocommit]\n\tremote = other\n")
    age(included)
    git_calls.clear()
    assert config.load_cached(worktree).remote == "other"
    assert len(git_calls) == 1
