"""Fixtures: real git repositories in temporary directories, isolated from the machine."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autocommit.gitio import git as autocommit_git
from autocommit.gitio.repo import Worktree
from tests.gitutil import git


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees a clean global git config with an identity, and no AUTOCOMMIT_*."""
    home = tmp_path_factory.mktemp("home")
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in list(__import__("os").environ):
        if name.startswith("AUTOCOMMIT_") or name.startswith("MLFLOW_"):
            monkeypatch.delenv(name)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A repository with one commit (``train.py``, ``README.md``) and a clean tree."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text("lr = 0.1\nprint('training')\n")
    (root / "README.md").write_text("# experiment\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    yield root
    # Removed here with rm, which handles trees deeper than Python's recursion limit
    # (some tests make them); pytest's own cleanup of old temp dirs would fail on one.
    subprocess.run(["rm", "-rf", "--", str(root)], check=False)


@pytest.fixture
def daemon(repo: Path) -> Iterator[Worktree]:
    """``repo``, enabled, with a real watch daemon running (stopped at teardown)."""
    from autocommit.daemon import client
    from tests.daemon_support import enable, stop_for_sure

    worktree = enable(repo)
    client.start(worktree)
    yield worktree
    stop_for_sure(worktree)


@pytest.fixture
def git_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The git commands autocommit runs (each still runs for real), in order."""
    seen: list[list[str]] = []
    real_run = autocommit_git.run

    def recording_run(args: Any, *rest: Any, **options: Any) -> Any:
        seen.append(list(args))
        return real_run(args, *rest, **options)

    monkeypatch.setattr(autocommit_git, "run", recording_run)
    yield seen


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel ``python -m build`` makes of this checkout."""
    from tests.packaging import build

    return build(tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="session")
def bare_venv(dists: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed without the mlflow extra (and so
    without MLflow); its python."""
    from tests.packaging import fresh_venv

    return fresh_venv(tmp_path_factory.mktemp("bare-venv"), str(dists[1]))
