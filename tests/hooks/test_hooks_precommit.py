"""autocommit as a hook repository of the pre-commit framework, run by real git commands.

The framework clones the hook repository at a commit and builds a virtualenv from it with
pip; here the repository is a local copy of this checkout (working tree included), and
the framework's cache is shared by the tests of a session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocommit.gitio.repo import find_worktree
from autocommit.hooks.run import hook_arguments, wait_for_hooks
from tests.support import PROJECT
from tests.support.cli import run_cli
from tests.support.daemon import rev
from tests.support.git import git
from tests.support.oracle import expected_tree

# The user's pip cache (tests get a fresh HOME): the framework's pip then installs offline
# whatever an earlier run downloaded.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")
IDENTITY = ["-c", "user.name=autocommit tests", "-c", "user.email=tests@example.com"]


@pytest.fixture(scope="session")
def hook_repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding this checkout's package and manifest; (path, commit)."""
    root = tmp_path_factory.mktemp("hook-repository")
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        if (PROJECT / name).exists():
            shutil.copy(PROJECT / name, root / name)
    shutil.copytree(PROJECT / "autocommit", root / "autocommit",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    for args in (["init", "-q"], ["add", "-A"], [*IDENTITY, "commit", "-q", "-m", "hooks"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, env=env, check=True,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    return root, sha


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def framework(
    repo: Path,
    hook_repository: tuple[Path, str],
    pre_commit_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """``repo`` enabled (without autocommit's own hooks) and using the framework."""
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    monkeypatch.setenv("PIP_CACHE_DIR", PIP_CACHE)
    path, sha = hook_repository
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {path}\n    rev: {sha}\n    hooks:\n"
        "      - id: autocommit-post-commit\n      - id: autocommit-post-checkout\n"
    )
    git(repo, "add", ".pre-commit-config.yaml")
    git(repo, "commit", "-q", "-m", "use the pre-commit framework")
    done = run_cli(repo, "init", "--no-daemon", "--no-hooks")
    assert done.returncode == 0, done.stderr
    for args in (["install", "-t", "post-commit", "-t", "post-checkout"], ["install-hooks"]):
        done = subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=repo,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    yield repo
    wait_for_hooks(find_worktree(repo), timeout=30)


def test_framework_runs_the_hooks_and_the_shadow_branch_follows(framework: Path) -> None:
    repo = framework
    (repo / "train.py").write_text("lr = 0.7  # not staged: the framework hides it\n")
    (repo / "model.py").write_text("layers = 4\n")
    git(repo, "add", "model.py")
    done = subprocess.run(["git", "commit", "-m", "model"], cwd=repo, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "autocommit (post-commit)" in done.stdout + done.stderr
    worktree = find_worktree(repo)
    assert wait_for_hooks(worktree, timeout=60)
    # The framework stashes unstaged changes while its hooks run: the snapshot is taken
    # after it restored them, so it holds the tree as the user has it.
    tip = rev(repo, "autocommit/heads/main")
    assert tip and rev(repo, tip + "^{tree}") == expected_tree(repo)
    assert git(repo, "show", f"{tip}:train.py").startswith("lr = 0.7")
    git(repo, "merge-base", "--is-ancestor", "HEAD", tip)

    done = subprocess.run(["git", "checkout", "-b", "feature"], cwd=repo, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "autocommit (post-checkout)" in done.stdout + done.stderr
    assert wait_for_hooks(worktree, timeout=60)
    tip = rev(repo, "autocommit/heads/feature")
    assert tip and rev(repo, tip + "^{tree}") == expected_tree(repo)
    log = (worktree.state_dir / "hooks.log").read_text().splitlines()
    assert [line.split(" ", 2)[1] for line in log] == ["post-commit:", "post-checkout:"]


def test_arguments_come_from_the_frameworks_variables() -> None:
    env = {
        "PRE_COMMIT": "1",
        "PRE_COMMIT_FROM_REF": "a" * 40,
        "PRE_COMMIT_TO_REF": "b" * 40,
        "PRE_COMMIT_CHECKOUT_TYPE": "1",
        "PRE_COMMIT_IS_SQUASH_MERGE": "0",
        "PRE_COMMIT_REWRITE_COMMAND": "rebase",
    }
    assert hook_arguments("post-checkout", [], env) == ["a" * 40, "b" * 40, "1"]
    assert hook_arguments("post-merge", [], env) == ["0"]
    assert hook_arguments("post-rewrite", [], env) == ["rebase"]
    assert hook_arguments("post-commit", [], env) == []
    assert hook_arguments("post-rewrite", ["amend"], env) == ["amend"]  # git's own win
    assert hook_arguments("post-rewrite", [], {"PRE_COMMIT_REWRITE_COMMAND": "x"}) == []


def test_try_repo_moves_the_shadow_branch(
    repo: Path,
    hook_repository: tuple[Path, str],
    pre_commit_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``pre-commit try-repo`` builds the hook's environment in a temporary directory and
    deletes it as it exits, while autocommit's work waits for that exit: the work must
    still run, and the shadow branch hold the working tree."""
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    monkeypatch.setenv("PIP_CACHE_DIR", PIP_CACHE)
    done = run_cli(repo, "init", "--no-daemon", "--no-hooks")
    assert done.returncode == 0, done.stderr
    first = rev(repo, "autocommit/heads/main")
    (repo / "train.py").write_text("lr = 0.3  # tried with the framework\n")
    path, sha = hook_repository
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(path), "autocommit-post-commit",
         "--ref", sha, "--hook-stage", "post-commit"],
        cwd=repo, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout
    worktree = find_worktree(repo)
    assert wait_for_hooks(worktree, timeout=60)
    log = (worktree.state_dir / "hooks.log").read_text()
    assert "error" not in log, log
    tip = rev(repo, "autocommit/heads/main")
    assert tip and tip != first, log
    assert rev(repo, tip + "^{tree}") == expected_tree(repo)


def test_install_hooks_accepts_hooks_the_framework_already_runs(framework: Path) -> None:
    """The config lists autocommit-post-commit and -post-checkout, and the framework
    installed those two hooks: nothing to ask, the other two are installed directly."""
    done = run_cli(framework, "install-hooks")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    for name in ("post-commit", "post-checkout"):
        assert any(line.startswith(f"autocommit: {name}: run by the pre-commit framework "
                                   f"(autocommit-{name} in .pre-commit-config.yaml)")
                   for line in lines), lines  # fmt: skip
    hooks = framework / ".git" / "hooks"
    assert "File generated by pre-commit" in (hooks / "post-commit").read_text()
    assert "autocommit-managed-hook" in (hooks / "post-merge").read_text()

    # a framework hook whose configuration does not list autocommit: still asked for
    config = framework / ".pre-commit-config.yaml"
    config.write_text(config.read_text().replace("autocommit-post-checkout", "other-hook"))
    done = run_cli(framework, "install-hooks")
    assert done.returncode == 1
    assert "add `- id: autocommit-post-checkout` to .pre-commit-config.yaml" in done.stderr
