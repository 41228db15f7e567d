"""One ``git config`` read serves the settings and the git keys a snapshot depends on
(core.fileMode, core.symlinks, core.sparseCheckout, user.name, user.email): kept while
git's config files are unchanged and settled, read again after any change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autocommit.engine import snapshot_state
from autocommit.errors import AutocommitError
from autocommit.gitio import git_inputs
from autocommit.gitio.repo import Worktree, find_worktree
from autocommit.settings import config
from tests.support.git import age
from tests.support.git import git as user_git


@pytest.fixture
def worktree(repo: Path) -> Worktree:
    user_git(repo, "config", "autocommit.exclude", "*.csv")
    age(repo / ".git" / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))
    return find_worktree(repo)


def test_settings_and_core_keys_come_from_one_read(
    worktree: Worktree, git_calls: list[list[str]]
) -> None:
    settings = config.load_cached(worktree)
    found = config.git_config(worktree)
    assert settings.exclude == ("*.csv",)
    assert found.get("user.name", "") == "Test User"
    assert found.get("core.filemode", "unset") == "true"
    assert sum(c[0] == "config" for c in git_calls) == 1


def test_a_snapshot_lists_git_inputs_from_that_read(
    worktree: Worktree, tmp_path: Path, git_calls: list[list[str]]
) -> None:
    """The ignore and attribute files the config names come from the settings' read: a
    new process's snapshot runs one ``git config``, not two."""
    user_git(worktree.root, "config", "core.excludesFile", str(tmp_path / "ignore-these"))
    user_git(worktree.root, "config", "core.attributesFile", "attrs")
    age(worktree.root / ".git" / "config")
    settings = config.load_cached(worktree)
    snapshot_state.inputs_fingerprint(worktree, settings)
    assert sum(c[0] == "config" for c in git_calls) == 1
    listed = git_inputs.files(worktree)
    assert {tmp_path / "ignore-these", worktree.root / "attrs"} <= set(listed)


def test_inputs_of_a_config_with_includes_are_listed_once(
    worktree: Worktree, tmp_path: Path, git_calls: list[list[str]]
) -> None:
    """A config that includes files is not kept (read again each time), but the list of
    git's inputs still is: a daemon's snapshots run no ``git config`` while it holds."""
    included = tmp_path / "more.gitconfig"
    included.write_text("[core]\n\tattributesFile = attrs\n")
    user_git(worktree.root, "config", "include.path", str(included))
    age(worktree.root / ".git" / "config", included)
    settings = config.load_cached(worktree)
    before = sum(c[0] == "config" for c in git_calls)
    for _ in range(3):
        snapshot_state.inputs_fingerprint(worktree, settings)
    assert sum(c[0] == "config" for c in git_calls) - before == 1
    assert worktree.root / "attrs" in git_inputs.files(worktree)


def test_a_change_is_read_again(worktree: Worktree) -> None:
    assert config.git_config(worktree).get("core.filemode", "") == "true"
    user_git(worktree.root, "config", "core.fileMode", "false")
    assert config.git_config(worktree).get("core.filemode", "") == "false"
    age(worktree.root / ".git" / "config")  # the same stat as the read before
    user_git(worktree.root, "config", "user.name", "Someone Else")
    age(worktree.root / ".git" / "config")
    assert config.git_config(worktree).get("user.name", "") == "Someone Else"


def test_a_config_written_within_the_last_second_is_read_every_time(
    worktree: Worktree, git_calls: list[list[str]]
) -> None:
    user_git(worktree.root, "config", "core.symlinks", "false")  # now: not settled
    config.git_config(worktree)
    config.git_config(worktree)
    assert sum(c[0] == "config" for c in git_calls) == 2


def test_config_that_includes_other_files_is_read_every_time(
    worktree: Worktree, tmp_path: Path, git_calls: list[list[str]]
) -> None:
    included = tmp_path / "more.gitconfig"
    included.write_text("[user]\n\tname = Included\n")
    user_git(worktree.root, "config", "include.path", str(included))
    age(worktree.root / ".git" / "config", included)
    assert config.git_config(worktree).get("user.name", "") == "Included"
    included.write_text("[user]\n\tname = Changed\n")  # no file of the list changed
    age(included)
    assert config.git_config(worktree).get("user.name", "") == "Changed"
    assert sum(c[0] == "config" for c in git_calls) == 2


def test_a_config_git_cannot_read_is_an_error_where_a_snapshot_needs_it(
    worktree: Worktree,
) -> None:
    with (worktree.root / ".git" / "config").open("a") as handle:
        handle.write("[core\n")
    found = config.git_config(worktree)
    with pytest.raises(AutocommitError, match="git config"):
        found.checked()
