"""push_on_run pushes each new pin once, across processes; a packed pin is a pin; a pin
already on the remote is not an error; a refused pin gets advice about pins."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autocommit.engine.run_commit import run_commit
from autocommit.engine.run_pin import RunPin
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import refs
from autocommit.gitio.repo import find_worktree
from autocommit.reproduce import share
from autocommit.settings import config
from autocommit.tracking import push_on_run
from autocommit.tracking.run_tags import tags_for
from tests.support.cli import run_cli
from tests.support.git import git

# A run whose snapshot is made: its run commit is made, pinned and pushed by tags_for,
# outside the snapshot lock (as when a daemon answered without one), at a signal.
_RUN = """
import sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from autocommit.settings import config
from autocommit.gitio.repo import find_worktree
from autocommit.engine.run_pin import RunPin
from autocommit.tracking.run_tags import tags_for
from autocommit.engine.snapshot import take_snapshot
root, go = Path(sys.argv[1]), Path(sys.argv[2])
worktree, settings = find_worktree(root), config.load(root)
snap = take_snapshot(worktree, settings=settings)
while not go.exists():
    time.sleep(0.0005)
with ThreadPoolExecutor(max_workers=1) as pool:
    print(tags_for(worktree, settings, snap, RunPin(worktree, pool))["autocommit.commit"])
"""


def _counted_remote(tmp_path: Path, repo: Path) -> Path:
    """A bare remote ``origin`` of ``repo``; every push to it adds a line to ``pushes``."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    wrapper = tmp_path / "receive-pack"
    count = tmp_path / "pushes"
    wrapper.write_text(f'#!/bin/sh\necho push >> {count}\nexec git receive-pack "$@"\n')
    wrapper.chmod(0o755)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "config", "remote.origin.receivepack", str(wrapper))
    git(repo, "config", "autocommit.pushonrun", "true")
    return remote


def _pushes(tmp_path: Path) -> int:
    path = tmp_path / "pushes"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _wait_for_pin(remote: Path, commit: str) -> None:
    deadline = time.monotonic() + 60
    while refs.pin_ref(commit) not in git(remote, "for-each-ref", "--format=%(refname)"):
        assert time.monotonic() < deadline, "the pin was never pushed"
        time.sleep(0.1)


def test_two_processes_with_the_same_run_commit_push_it_once(repo: Path, tmp_path: Path) -> None:
    remote = _counted_remote(tmp_path, repo)
    for round in range(3):
        (repo / "train.py").write_text(f"lr = 0.{round + 1}\n")
        go = tmp_path / f"go-{round}"
        runs = [subprocess.Popen([sys.executable, "-c", _RUN, str(repo), str(go)],
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
        time.sleep(1.5)  # both have their snapshot (the same one) and wait for the signal
        go.touch()
        commits = {run.communicate(timeout=60)[0].strip() for run in runs}
        assert len(commits) == 1 and all(run.returncode == 0 for run in runs)
        _wait_for_pin(remote, commits.pop())
    time.sleep(2)  # a second push of any pin would have connected by now
    assert _pushes(tmp_path) == 3
    log = (repo / ".git" / "autocommit" / "push.log").read_text()
    assert "error" not in log and "rejected" not in log, log


def test_a_packed_pin_is_seen_and_not_pushed_again(repo: Path, tmp_path: Path) -> None:
    remote = _counted_remote(tmp_path, repo)
    worktree, settings = find_worktree(repo), config.load(repo)
    (repo / "train.py").write_text("lr = 0.9\n")
    snap = take_snapshot(worktree)
    with ThreadPoolExecutor(max_workers=1) as pool:
        commit = tags_for(worktree, settings, snap, RunPin(worktree, pool))["autocommit.commit"]
    _wait_for_pin(remote, commit)
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / refs.pin_ref(commit)).exists()
    assert refs.pin_seen(worktree, commit)
    share_claims = repo / ".git" / "autocommit" / push_on_run.CLAIMS
    for claim in share_claims.iterdir():
        claim.unlink()  # only the pin itself tells the next run it is not new
    with ThreadPoolExecutor(max_workers=1) as pool:
        run = RunPin(worktree, pool)
        assert tags_for(worktree, settings, snap, run)["autocommit.commit"] == commit
    assert not run.newly_pinned
    time.sleep(1)
    assert _pushes(tmp_path) == 1


def _pinned_run(repo: Path) -> str:
    worktree = find_worktree(repo)
    (repo / "train.py").write_text("lr = 0.3\n")
    commit = run_commit(worktree, take_snapshot(worktree))
    refs.pin(repo, commit)
    return commit


def test_a_pin_another_push_created_meanwhile_is_not_an_error(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    commit = _pinned_run(repo)
    git(repo, "push", "-q", "origin", f"{commit}:refs/other/run")  # the objects are there
    # Another push lands the pin between our reading the remote's refs and our update.
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        f"#!/bin/sh\nunset GIT_QUARANTINE_PATH\ngit update-ref {refs.pin_ref(commit)} {commit}\n"
    )
    hook.chmod(0o755)

    updates = share.push(find_worktree(repo), "origin", pins=[commit])

    assert [(u.ref, u.status, u.detail) for u in updates] == [
        (refs.pin_ref(commit), "up to date", "already there")
    ]
    done = run_cli(repo, "push", "--pin", commit)  # and again: git itself says up to date
    assert done.returncode == 0, done.stderr


def test_a_refused_pin_gets_advice_about_pins(repo: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pins are not welcome here' >&2\nexit 1\n")
    hook.chmod(0o755)
    _pinned_run(repo)

    done = run_cli(repo, "push")

    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("autocommit: error: ")
    assert "refs/autocommit/pins/*" in done.stderr and "--shadow" not in done.stderr
