"""A git child's environment: a repository's variables exported by a hook (``GIT_DIR``,
``GIT_INDEX_FILE``, …) never reach it, and git is asked which those are only when one
may be set (asking is a process start)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from autocommit.gitio import git
from tests.support.git import calls_to, new_repository


@pytest.fixture
def fresh_answer() -> None:
    git._local_env_vars.cache_clear()


def test_no_repository_variable_set_no_question_to_git(
    monkeypatch: pytest.MonkeyPatch, fresh_answer: None
) -> None:
    for name in [n for n in list(os.environ) if n.startswith("GIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_SSL_CAINFO", "/etc/ssl/certs/ca.crt")  # transport: not a repo's
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    asked = calls_to(monkeypatch, subprocess, "run")
    env = git.scrubbed_env()
    assert asked == []
    assert env["GIT_SSL_CAINFO"] == "/etc/ssl/certs/ca.crt" and env["GIT_OPTIONAL_LOCKS"] == "0"


@pytest.mark.parametrize("name", ["GIT_DIR", "GIT_INDEX_FILE", "GIT_CONFIG_PARAMETERS",
                                  "GIT_SOMETHING_NEWER"])  # fmt: skip
def test_a_repository_s_variable_is_scrubbed(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_answer: None
) -> None:
    """Set as a hook sets it: git is asked (a variable of a newer git is among its
    answer) and the child never sees it; git then works on the directory it runs in."""
    root = new_repository(tmp_path / "repo", {"a.txt": "a\n"})
    monkeypatch.setenv(name, str(tmp_path / "elsewhere"))
    assert git.repository_variables_set()
    env = git.scrubbed_env()
    known = name in git._FALLBACK_LOCAL_ENV_VARS
    assert (name in env) is not known  # an unknown one is git's to name
    assert git.out(["rev-parse", "--show-toplevel"], root) == str(root)
