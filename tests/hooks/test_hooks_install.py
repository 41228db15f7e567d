"""Installing and uninstalling the git hooks: chaining, byte-for-byte restore, hooksPath,
hook managers. Real repositories, real files; the hooks run in tests/hooks/test_hooks_git.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autocommit.errors import AutocommitError
from autocommit.gitio.repo import find_worktree
from autocommit.hooks import install as hook_install
from autocommit.hooks.install import ORIGINAL_SUFFIX, current_script, install, uninstall
from autocommit.hooks.run import HOOK_NAMES
from tests.support import PROJECT
from tests.support.cli import run_cli
from tests.support.git import git
from tests.support.readme import says

USER_HOOK = b"#!/bin/sh\n# the user's own hook\r\necho 'user hook' \"$@\" >&2\n"


def snapshot_of(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every entry of ``directory``: content (or link target), mode and mtime."""
    found = {}
    for entry in sorted(directory.iterdir()):
        info = entry.lstat()
        data = os.readlink(entry).encode() if entry.is_symlink() else entry.read_bytes()
        found[entry.name] = (data, info.st_mode, info.st_mtime_ns)
    return found


def test_fresh_install_and_uninstall(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    before = snapshot_of(hooks)
    done = run_cli(repo, "install-hooks")
    assert done.returncode == 0, done.stderr
    for name in HOOK_NAMES:
        assert (hooks / name).read_text() == current_script(name)
        assert stat.S_IMODE((hooks / name).stat().st_mode) == 0o755
        assert f"{name}: installed in {hooks}" in done.stderr
    done = run_cli(repo, "uninstall-hooks")
    assert done.returncode == 0, done.stderr
    assert snapshot_of(hooks) == before


def test_existing_hook_is_chained_and_restored_byte_for_byte(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    user_hook = hooks / "post-commit"
    user_hook.write_bytes(USER_HOOK)
    os.chmod(user_hook, 0o750)
    os.utime(user_hook, ns=(1_000_000_000, 1_000_000_000))
    os.symlink("post-commit", hooks / "post-merge")  # a symlinked hook stays a symlink
    before = snapshot_of(hooks)

    results = {r.name: r.action for r in install(find_worktree(repo))}
    assert results == {"post-commit": "chained", "post-checkout": "installed",
                       "post-merge": "chained", "post-rewrite": "installed"}  # fmt: skip
    assert (hooks / ("post-commit" + ORIGINAL_SUFFIX)).read_bytes() == USER_HOOK
    assert (hooks / ("post-merge" + ORIGINAL_SUFFIX)).is_symlink()

    again = {r.name: r.action for r in install(find_worktree(repo))}
    assert set(again.values()) == {"unchanged"}

    results = {r.name: r.action for r in uninstall(find_worktree(repo))}
    assert results == {"post-commit": "restored", "post-checkout": "removed",
                       "post-merge": "restored", "post-rewrite": "removed"}  # fmt: skip
    assert snapshot_of(hooks) == before


def test_install_twice_changes_nothing(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "post-checkout").write_bytes(USER_HOOK)
    os.chmod(hooks / "post-checkout", 0o755)
    assert run_cli(repo, "install-hooks").returncode == 0
    first = snapshot_of(hooks)
    done = run_cli(repo, "install-hooks")
    assert done.returncode == 0
    assert done.stderr.count("already installed") == len(HOOK_NAMES)
    assert snapshot_of(hooks) == first


def test_core_hooks_path_is_respected(repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared-hooks"  # e.g. a team's hooks directory outside the repo
    git(repo, "config", "core.hooksPath", str(shared))
    assert run_cli(repo, "install-hooks").returncode == 0
    assert sorted(p.name for p in shared.iterdir()) == sorted(HOOK_NAMES)
    assert not (repo / ".git" / "hooks" / "post-commit").exists()
    assert run_cli(repo, "uninstall-hooks").returncode == 0
    assert list(shared.iterdir()) == []


def test_hooks_path_inside_the_working_tree_is_left_alone(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", ".githooks")
    (repo / ".githooks").mkdir()
    (repo / ".githooks" / "post-commit").write_bytes(USER_HOOK)
    before = snapshot_of(repo / ".githooks")
    done = run_cli(repo, "install-hooks")
    assert done.returncode == 1
    assert "inside the working tree" in done.stderr
    assert 'autocommit hook post-commit "$@"' in done.stderr
    assert snapshot_of(repo / ".githooks") == before


def test_hooks_disabled_by_hooks_path_dev_null_is_reported(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", "/dev/null")
    done = run_cli(repo, "install-hooks")
    assert done.returncode == 1
    assert done.stderr.count("git runs no hooks") == len(HOOK_NAMES)
    done = run_cli(repo, "init", "--no-daemon")  # init still enables the repository
    assert done.returncode == 0, done.stderr
    assert "git runs no hooks" in done.stderr


def test_linked_worktrees_share_the_common_hooks_dir(repo: Path, tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", str(linked), "-b", "feature")
    worktree = find_worktree(linked)
    assert hook_install.hooks_dir(worktree) == worktree.common_dir / "hooks"
    assert run_cli(linked, "install-hooks").returncode == 0
    assert (repo / ".git" / "hooks" / "post-commit").read_text() == current_script("post-commit")
    assert run_cli(repo, "install-hooks").stderr.count("already installed") == 4


@pytest.mark.parametrize(
    ("content", "manager"),
    [
        (b"#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\n"
         b"# ID: 138fd403232d2ddd5efb44317e38bf03\n", "the pre-commit framework"),
        (b'#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n', "husky"),
        (b"#!/bin/sh\ncall_lefthook run post-commit\n", "lefthook"),
    ],
)  # fmt: skip
def test_hooks_of_a_hook_manager_are_left_alone(repo: Path, content: bytes, manager: str) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "post-commit").write_bytes(content)
    os.chmod(hooks / "post-commit", 0o755)
    before = snapshot_of(hooks)
    done = run_cli(repo, "install-hooks")
    assert done.returncode == 1
    assert f"managed by {manager}" in done.stderr
    assert snapshot_of(hooks) == before  # all or nothing: the other hooks are not installed
    assert "post-checkout: not installed: installing is all or nothing" in done.stderr
    if manager == "the pre-commit framework":
        assert "id: autocommit-post-commit" in done.stderr


def test_leftover_original_is_never_overwritten(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "post-commit").write_bytes(b"#!/bin/sh\necho new\n")
    (hooks / ("post-commit" + ORIGINAL_SUFFIX)).write_bytes(USER_HOOK)
    before = snapshot_of(hooks)
    says("Installing refuses, and says why, when it would have to overwrite something")
    says("Installing is all or nothing: when one hook is refused, none is installed")
    done = run_cli(repo, "install-hooks")
    assert done.returncode == 1
    assert "remove or rename one of them" in done.stderr
    assert snapshot_of(hooks) == before  # not one hook written, moved or touched
    for name in set(HOOK_NAMES) - {"post-commit"}:
        assert f"{name}: not installed: installing is all or nothing" in done.stderr
    (hooks / ("post-commit" + ORIGINAL_SUFFIX)).unlink()  # once out of the way: all of them
    assert run_cli(repo, "install-hooks").returncode == 0
    assert all(hook_install.is_ours(hooks / name) for name in HOOK_NAMES)


def test_a_hook_that_cannot_be_written_undoes_the_others(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up at the third hook: the two already in are taken out again."""
    hooks = repo / ".git" / "hooks"
    (hooks / "post-checkout").write_bytes(USER_HOOK)  # chained, then put back
    os.chmod(hooks / "post-checkout", 0o755)
    before = snapshot_of(hooks)
    real_write, written = hook_install._write_script, list[str]()

    def fills_up(path: Path, text: str) -> None:
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        real_write(path, text)
        written.append(path.name)

    monkeypatch.setattr(hook_install, "_write_script", fills_up)
    with pytest.raises(AutocommitError, match="nothing was changed"):
        install(find_worktree(repo))
    assert written == list(HOOK_NAMES[:2])
    assert snapshot_of(hooks) == before


def test_an_edited_hook_is_not_removed(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    assert run_cli(repo, "install-hooks").returncode == 0
    with open(hooks / "post-merge", "a") as handle:
        handle.write("echo my addition\n")
    done = run_cli(repo, "uninstall-hooks")
    assert done.returncode == 1
    assert "edited after autocommit installed it" in done.stderr
    assert (hooks / "post-merge").read_text().endswith("echo my addition\n")
    assert not (hooks / "post-commit").exists()


def test_an_edited_hook_is_not_overwritten(repo: Path) -> None:
    says("an autocommit hook you edited")
    hooks = repo / ".git" / "hooks"
    assert run_cli(repo, "install-hooks").returncode == 0
    with open(hooks / "post-merge", "a") as handle:
        handle.write("echo my addition\n")
    before = snapshot_of(hooks)
    done = run_cli(repo, "install-hooks")
    assert done.returncode == 1
    assert "post-merge was edited after autocommit installed it" in done.stderr
    assert snapshot_of(hooks) == before


def test_hook_scripts_in_the_repository_are_the_generic_scripts() -> None:
    """hooks/<name> is what install-hooks writes, finding autocommit on PATH."""
    for name in HOOK_NAMES:
        script = PROJECT / "hooks" / name
        assert script.read_text() == hook_install.render_script(name)
        assert os.access(script, os.X_OK)


def test_pre_commit_manifest_exposes_every_hook() -> None:
    manifest = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in manifest] == [f"autocommit-{n}" for n in HOOK_NAMES]
    for hook, name in zip(manifest, HOOK_NAMES, strict=True):
        assert hook["entry"] == f"autocommit hook {name}"
        assert hook["stages"] == [name]
        assert hook["language"] == "python"
        assert hook["always_run"] is True
        assert hook["pass_filenames"] is False
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", ".pre-commit-hooks.yaml"],
        cwd=PROJECT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_hook_of_another_installation_is_updated(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    (hooks / "post-merge").write_text(
        hook_install.render_script("post-merge", "/other/bin/python", "/other/autocommit")
    )
    results = {r.name: r.action for r in install(find_worktree(repo))}
    assert results["post-merge"] == "updated"
    assert (hooks / "post-merge").read_text() == current_script("post-merge")
