"""The installed hooks under real git commands: commit, commit -a, checkout, worktrees,
merge, amend, rebase; with and without the daemon; with autocommit gone."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocommit.daemon import client
from autocommit.gitio.repo import Worktree, find_worktree
from autocommit.hooks.install import ORIGINAL_SUFFIX, render_script
from autocommit.hooks.run import wait_for_hooks
from tests.support.cli import run_cli
from tests.support.daemon import rev, stop_for_sure, wait_for, wait_for_exact_snapshot
from tests.support.git import git, user_state
from tests.support.oracle import expected_tree
from tests.support.readme import says

FIXED_DATES = {
    "GIT_AUTHOR_DATE": "2024-01-02T03:04:05Z",
    "GIT_COMMITTER_DATE": "2024-01-02T03:04:05Z",
}

AUTOCOMMIT = [sys.executable, "-m", "autocommit"]


def run_git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """git as the user runs it (hooks included); fails the test if git fails."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})  # fmt: skip
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stderr


def setup_git(cwd: Path, *args: str) -> str:
    """git without hooks, to build a test's history quickly."""
    return git(cwd, "-c", "core.hooksPath=/dev/null", *args)


def settled(root: Path) -> Worktree:
    worktree = find_worktree(root)
    assert wait_for_hooks(worktree, timeout=60), "the hooks did not finish"
    return worktree


def hook_log(worktree: Worktree) -> list[str]:
    """The messages of ``hooks.log`` (without their time stamps)."""
    path = worktree.state_dir / "hooks.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.split(" ", 1)[1] for line in lines]


def assert_shadow_follows(root: Path, ref: str) -> str:
    """The shadow branch holds the working tree exactly and descends from HEAD."""
    tip = rev(root, ref)
    assert tip, f"{ref} does not exist"
    assert rev(root, tip + "^{tree}") == expected_tree(root)
    git(root, "merge-base", "--is-ancestor", "HEAD", tip)
    return tip


@pytest.fixture
def hooked(repo: Path) -> Iterator[Path]:
    """``repo`` enabled by ``autocommit init`` (hooks installed, no daemon)."""
    done = run_cli(repo, "init", "--no-daemon")
    assert done.returncode == 0, done.stderr
    yield repo
    wait_for_hooks(find_worktree(repo), timeout=30)


def test_init_keeps_the_users_hook_running_and_uninstall_restores_it(
    repo: Path, tmp_path: Path
) -> None:
    ran = tmp_path / "user-hook-ran"
    user_hook = repo / ".git" / "hooks" / "post-commit"
    user_hook.write_text(f'#!/bin/sh\necho "user hook $(git rev-parse HEAD)" >> {ran}\n')
    os.chmod(user_hook, 0o700)
    hooks_before = {p.name: (p.read_bytes(), p.stat()) for p in user_hook.parent.iterdir()}

    done = run_cli(repo, "init", "--no-daemon")
    assert done.returncode == 0, done.stderr
    assert "your hook still runs first" in done.stderr

    (repo / "train.py").write_text("lr = 0.5\n")
    (repo / "notes.txt").write_text("untracked notes\n")
    run_git(repo, "commit", "-q", "-am", "tune lr")
    head = git(repo, "rev-parse", "HEAD").strip()
    assert ran.read_text() == f"user hook {head}\n"  # the user's hook ran, as before
    worktree = settled(repo)
    assert_shadow_follows(repo, "autocommit/heads/main")  # and so did autocommit's
    assert hook_log(worktree)[-1].startswith("post-commit: snapshot ")

    done = run_cli(repo, "uninstall-hooks")
    assert done.returncode == 0, done.stderr
    hooks_after = {p.name: (p.read_bytes(), p.stat()) for p in user_hook.parent.iterdir()}
    assert hooks_after.keys() == hooks_before.keys()
    for name, (data, info) in hooks_before.items():
        assert hooks_after[name][0] == data
        assert hooks_after[name][1].st_mode == info.st_mode
        assert hooks_after[name][1].st_mtime_ns == info.st_mtime_ns
    run_git(repo, "commit", "-q", "--allow-empty", "-m", "after uninstall")
    assert ran.read_text().count("user hook") == 2


def _twin(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text("lr = 0.1\n")
    (root / "data.csv").write_text("a,b\n1,2\n")
    (root / "old.txt").write_text("to be deleted\n")
    git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "initial", env=FIXED_DATES)
    return root


def test_commit_dash_a_is_exactly_what_git_commits_without_autocommit(tmp_path: Path) -> None:
    plain, hooked = _twin(tmp_path / "plain"), _twin(tmp_path / "hooked")
    assert run_cli(hooked, "init", "--no-daemon").returncode == 0
    for root in (plain, hooked):
        (root / "train.py").write_text("lr = 0.2\n")
        (root / "old.txt").unlink()
        (root / "notes.txt").write_text("not committed: untracked\n")
        run_git(root, "commit", "-q", "-a", "-m", "tune", env=FIXED_DATES)
    assert git(hooked, "rev-parse", "HEAD") == git(plain, "rev-parse", "HEAD")  # same commit

    index = hooked / ".git" / "index"
    after_commit = user_state(hooked)
    index_stat = index.stat()
    settled(hooked)
    assert_shadow_follows(hooked, "autocommit/heads/main")  # the hook did its work …
    assert user_state(hooked) == after_commit  # … without touching the user's state
    assert index.stat().st_mtime_ns == index_stat.st_mtime_ns
    assert index.stat().st_ino == index_stat.st_ino


def test_hook_ignores_the_variables_git_exports(hooked: Path, tmp_path: Path) -> None:
    """Inside a hook GIT_INDEX_FILE may name the index being committed; it is never used."""
    decoy = tmp_path / "decoy-index"
    shutil.copy(hooked / ".git" / "index", decoy)
    decoy_bytes = decoy.read_bytes()
    (hooked / "notes.txt").write_text("new\n")
    before = user_state(hooked)
    env = {**os.environ, "GIT_INDEX_FILE": str(decoy), "GIT_DIR": ".git",
           "GIT_WORK_TREE": str(tmp_path), "GIT_PREFIX": "sub/"}  # fmt: skip
    done = subprocess.run(
        [*AUTOCOMMIT, "hook", "post-commit"], cwd=hooked, env=env,
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    assert_shadow_follows(hooked, "autocommit/heads/main")
    assert decoy.read_bytes() == decoy_bytes
    assert user_state(hooked) == before


def test_hook_leaves_another_repository_named_by_git_dir_alone(
    hooked: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", str(other))
    before = rev(hooked, "autocommit/heads/main")  # init's snapshot of the clean tree
    (hooked / "notes.txt").write_text("new\n")
    env = {**os.environ, "GIT_DIR": str(other / ".git")}
    done = subprocess.run([*AUTOCOMMIT, "hook", "post-commit"], cwd=hooked, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    assert rev(hooked, "autocommit/heads/main") == before


def test_checkout_merge_and_amend_move_the_shadow_branch(hooked: Path) -> None:
    (hooked / "notes.txt").write_text("work in progress\n")
    run_git(hooked, "checkout", "-q", "-b", "experiment")
    settled(hooked)
    assert_shadow_follows(hooked, "autocommit/heads/experiment")

    (hooked / "model.py").write_text("layers = 3\n")
    git(hooked, "add", "model.py")
    run_git(hooked, "commit", "-q", "-m", "model")
    run_git(hooked, "checkout", "-q", "main")
    run_git(hooked, "merge", "-q", "--no-ff", "-m", "merge experiment", "experiment")
    settled(hooked)
    assert_shadow_follows(hooked, "autocommit/heads/main")

    (hooked / "notes.txt").write_text("after the merge\n")
    run_git(hooked, "commit", "-q", "--amend", "-m", "merge experiment (amended)")
    worktree = settled(hooked)
    assert_shadow_follows(hooked, "autocommit/heads/main")
    log = hook_log(worktree)
    assert log and not [line for line in log if "error" in line]


@pytest.mark.parametrize("daemon", [False, True], ids=["no-daemon", "daemon"])
def test_a_commit_that_leaves_the_tree_clean_links_the_shadow_branch_to_it(
    hooked: Path, daemon: bool
) -> None:
    says("snapshot: the shadow branch links to the new commit (a clean tree's snapshot is the "
         "commit itself, and the shadow tip then holds its tree)")  # fmt: skip
    worktree = find_worktree(hooked)
    (hooked / "train.py").write_text("lr = 0.3  # committed next\n")
    assert run_cli(hooked, "snapshot").returncode == 0  # the work in progress, on the chain
    if daemon:
        assert run_cli(hooked, "start").returncode == 0
    try:
        run_git(hooked, "commit", "-q", "-am", "lr 0.3")  # the tree is clean now
        settled(hooked)
        head = rev(hooked, "HEAD")
        wait_for(lambda: head in git(hooked, "rev-parse", "autocommit/heads/main^@").split(),
                 what="the shadow branch to link to the commit")  # fmt: skip
        tip = assert_shadow_follows(hooked, "autocommit/heads/main")
    finally:
        if daemon:
            stop_for_sure(worktree)
    assert rev(hooked, tip + "^{tree}") == rev(hooked, "HEAD^{tree}")
    assert git(hooked, "diff", "HEAD", "autocommit/heads/main") == ""
    expected = "post-commit: told the daemon" if daemon else "post-commit: snapshot "
    assert hook_log(worktree)[-1].startswith(expected), hook_log(worktree)


def test_hooks_fire_in_a_linked_worktree_for_its_own_shadow_branch(
    hooked: Path, tmp_path: Path
) -> None:
    main_shadow = rev(hooked, "autocommit/heads/main")
    linked = tmp_path / "linked"
    run_git(hooked, "worktree", "add", "-q", str(linked), "-b", "feature")
    worktree = find_worktree(linked)
    assert worktree.linked_id is not None
    # `worktree add` runs post-checkout inside the new worktree.
    wait_for(lambda: hook_log(worktree), what="the post-checkout hook of the new worktree")

    (linked / "train.py").write_text("lr = 0.3  # tried in the linked worktree\n")
    (linked / "scratch.txt").write_text("untracked in the linked worktree\n")
    run_git(linked, "commit", "-q", "-m", "feature work", "--allow-empty")
    settled(linked)
    tip = assert_shadow_follows(linked, "autocommit/heads/feature")
    assert git(linked, "show", f"{tip}:train.py") == "lr = 0.3  # tried in the linked worktree\n"
    assert hook_log(worktree)[-1].startswith("post-commit: snapshot ")
    assert rev(hooked, "autocommit/heads/main") == main_shadow  # the main worktree's is untouched


def test_rebase_with_autostash_reconciles_its_end_state(hooked: Path) -> None:
    git(hooked, "checkout", "-q", "-b", "topic")
    for i in range(3):
        (hooked / f"step{i}.txt").write_text(f"{i}\n")
        git(hooked, "add", "-A")
        git(hooked, "commit", "-q", "-m", f"step {i}")
    git(hooked, "checkout", "-q", "main")
    (hooked / "upstream.txt").write_text("upstream\n")
    git(hooked, "add", "-A")
    git(hooked, "commit", "-q", "-m", "upstream")
    git(hooked, "checkout", "-q", "topic")
    (hooked / "train.py").write_text("lr = 0.9  # stashed during the rebase\n")
    run_git(hooked, "rebase", "--autostash", "main")
    settled(hooked)
    tip = assert_shadow_follows(hooked, "autocommit/heads/topic")
    assert git(hooked, "show", f"{tip}:train.py") == "lr = 0.9  # stashed during the rebase\n"


@pytest.mark.parametrize("daemon", [False, True], ids=["no-daemon", "daemon"])
def test_rebase_of_30_commits_reconciles_once(hooked: Path, daemon: bool) -> None:
    setup_git(hooked, "checkout", "-q", "-b", "topic")
    for i in range(30):
        (hooked / f"part{i:02}.py").write_text(f"PART = {i}\n")
        setup_git(hooked, "add", "-A")
        setup_git(hooked, "commit", "-q", "-m", f"part {i}")
    setup_git(hooked, "checkout", "-q", "main")
    (hooked / "upstream.py").write_text("UPSTREAM = 1\n")
    setup_git(hooked, "add", "-A")
    setup_git(hooked, "commit", "-q", "-m", "upstream")
    setup_git(hooked, "checkout", "-q", "topic")
    (hooked / "notes.txt").write_text("untracked, carried through the rebase\n")
    worktree = find_worktree(hooked)
    old_head = git(hooked, "rev-parse", "HEAD").strip()
    if daemon:
        assert run_cli(hooked, "start").returncode == 0
    try:
        run_git(hooked, "rebase", "main")
        settled(hooked)
        if daemon:
            want = expected_tree(hooked)
            wait_for(lambda: rev(hooked, "autocommit/heads/topic^{tree}") == want,
                     what="the daemon to reconcile")  # fmt: skip
        tip = assert_shadow_follows(hooked, "autocommit/heads/topic")
    finally:
        if daemon:
            stop_for_sure(worktree)
    snapshots = git(hooked, "rev-list", "--first-parent", tip, "^HEAD", f"^{old_head}").split()
    if daemon:
        assert hook_log(worktree) == ["post-rewrite: told the daemon"]
        assert len(snapshots) <= 3, f"{len(snapshots)} snapshots for one rebase"
    else:
        log = hook_log(worktree)
        assert len(log) == 1 and log[0].startswith("post-rewrite: snapshot "), log
        assert len(snapshots) == 1  # one snapshot for the whole rebase


def test_autostart_starts_the_daemon_from_a_hook(hooked: Path) -> None:
    git(hooked, "config", "autocommit.autostart", "true")
    worktree = find_worktree(hooked)
    try:
        run_git(hooked, "commit", "-q", "--allow-empty", "-m", "x")
        settled(hooked)
        assert hook_log(worktree)[-1].startswith("post-commit: started the daemon (pid ")
        wait_for(lambda: client.is_running(worktree), what="the daemon to answer")
        (hooked / "notes.txt").write_text("seen by the daemon\n")
        wait_for_exact_snapshot(hooked)
    finally:
        stop_for_sure(worktree)


def test_autocommit_gone_from_the_machine_is_harmless(repo: Path, tmp_path: Path) -> None:
    """Hooks left behind by an uninstalled autocommit: the interpreter they recorded is
    gone and no `autocommit` is on PATH. git works as before, the user's hook included."""
    hooks = repo / ".git" / "hooks"
    (hooks / ("post-checkout" + ORIGINAL_SUFFIX)).write_text("#!/bin/sh\necho user >&2\nexit 3\n")
    os.chmod(hooks / ("post-checkout" + ORIGINAL_SUFFIX), 0o755)
    for name in ("post-commit", "post-checkout"):
        (hooks / name).write_text(render_script(name, "/gone/bin/python", "/gone/autocommit"))
        os.chmod(hooks / name, 0o755)
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    env = {**os.environ, "PATH": f"{git_dir}:/usr/bin:/bin"}
    assert shutil.which("autocommit", path=env["PATH"]) is None
    (repo / "train.py").write_text("lr = 0.3\n")
    done = subprocess.run(["git", "commit", "-q", "-am", "x"], cwd=repo, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    done = subprocess.run(["git", "checkout", "-q", "-b", "other"], cwd=repo, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1  # the user's hook failed, and git says so (as without autocommit)
    assert done.stderr == "user\n"
    assert not (repo / ".git" / "autocommit").exists()


def test_a_hook_manager_calling_autocommit_in_the_foreground_never_fails_git(
    hooked: Path, tmp_path: Path
) -> None:
    """As husky, lefthook or the pre-commit framework call it: from git's hook, waited for;
    a post-checkout's exit status is `git checkout`'s own."""
    says("Called from a hook of yours or of a hook manager, it exits with status 0 whatever")
    managed = tmp_path / "managed-hooks"
    managed.mkdir()
    script = managed / "post-checkout"
    script.write_text(f'#!/bin/sh\n{shlex.join(AUTOCOMMIT)} hook post-checkout "$@"\n')
    script.chmod(0o755)
    git(hooked, "config", "core.hooksPath", str(managed))
    git(hooked, "config", "autocommit.maxfilesize", "huge")  # every hook fails
    stderr = run_git(hooked, "checkout", "-q", "-b", "elsewhere")  # git's own status: 0
    assert "bad value for max_file_size" in stderr and stderr.count("\n") == 1


def test_a_repository_not_enabled_is_left_alone(repo: Path) -> None:
    assert run_cli(repo, "install-hooks").returncode == 0
    (repo / "notes.txt").write_text("new\n")
    assert run_git(repo, "commit", "-q", "--allow-empty", "-m", "x") == ""
    done = run_cli(repo, "hook", "post-commit")
    assert done.returncode == 0 and done.stderr == ""
    assert not (repo / ".git" / "autocommit").exists()
    assert git(repo, "for-each-ref", "refs/autocommit") == ""


def test_an_error_never_fails_git_and_is_logged_once(hooked: Path) -> None:
    git(hooked, "config", "autocommit.maxfilesize", "huge")
    stderr = run_git(hooked, "commit", "-q", "--allow-empty", "-m", "x")
    assert stderr == ""
    worktree = find_worktree(hooked)
    wait_for(lambda: hook_log(worktree), what="the error in hooks.log")
    assert hook_log(worktree) == [
        "post-commit: error: bad value for max_file_size (git config autocommit.maxfilesize): "
        "expected a size such as 5MiB or 500k, got 'huge'; fix it"
    ]
    says("Running `autocommit hook post-commit` by hand does the same work in the "
         "foreground, prints an error on stderr and exits with status 1")  # fmt: skip
    done = run_cli(hooked, "hook", "post-commit")  # by hand: the same line, on stderr
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "bad value for max_file_size" in done.stderr
    git(hooked, "config", "--unset", "autocommit.maxfilesize")
