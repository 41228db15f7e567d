"""A team: a shared bare git remote and a real ``mlflow server``; B reproduces A's runs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from autocommit import contract
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio import refs
from autocommit.gitio.repo import find_worktree
from autocommit.tracking import push_on_run
from tests.support.cli import main_in_process, one_line_error
from tests.support.daemon import enable
from tests.support.git import disk_listing, git, new_repository, tree_listing, user_state
from tests.support.mlflow import start_run

mlflow = pytest.importorskip("mlflow")


def not_ours(repository: Path) -> list[str]:
    """Every ref outside refs/autocommit/, with its value."""
    listing = git(repository, "for-each-ref", "--format=%(objectname) %(refname)")
    return [line for line in listing.splitlines() if " refs/autocommit/" not in line]


def clone(remote: Path, where: Path) -> Path:
    git(where.parent, "clone", "-q", str(remote), str(where))
    return where


@pytest.fixture
def team_remote(tmp_path: Path) -> Path:
    """A bare repository with one commit on main and a release tag."""
    remote = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    seed = tmp_path / "seed"
    new_repository(seed, {"train.py": "lr = 0.1\n"})
    git(seed, "tag", "v1")
    git(seed, "push", "-q", str(remote), "main", "v1")
    return remote


def test_a_teammate_checks_out_a_run_by_id(
    tmp_path: Path, team_remote: Path, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = clone(team_remote, tmp_path / "machine-a")
    enable(a)
    git(a, "config", "push.followTags", "true")  # must not make autocommit push tags
    git(a, "tag", "-a", "local-only", "-m", "not for the remote")
    git(a, "branch", "experiment-branch")
    monkeypatch.chdir(a)
    mlflow.set_tracking_uri(server)
    mlflow.set_experiment("team")
    (a / "train.py").write_text("lr = 0.01\n")
    (a / "prepare.sh").write_text("#!/bin/sh\necho prepare\n")
    (a / "prepare.sh").chmod(0o755)
    (a / "config.py").symlink_to("train.py")
    run1, commit1 = start_run()
    work_in_progress = []
    for layers in range(1, 4):  # snapshots no run refers to
        (a / "model.py").write_text(f"layers = {layers}\n")
        work_in_progress.append(take_snapshot(find_worktree(a), ["model.py"]).commit)
    (a / "train.py").write_text("lr = 0.001\n")
    (a / "model.py").write_text("layers = 8\n")
    run2, commit2 = start_run()
    work_in_progress.append(git(a, "rev-parse", "refs/autocommit/heads/main").strip())
    remote_before = not_ours(team_remote)
    assert len(remote_before) == 2  # main and v1

    code, out, err = main_in_process("-C", str(a), "push")
    assert code == 0, err
    assert not_ours(team_remote) == remote_before  # no branch, no tag
    # each run's context is pinned too
    client = mlflow.MlflowClient()
    contexts = [client.get_run(r).data.tags[contract.CONTEXT_TAG] for r in (run1, run2)]
    assert set(refs.list_refs(team_remote, contract.NAMESPACE)) == {
        refs.pin_ref(commit1),
        refs.pin_ref(commit2),
        *map(refs.pin_ref, contexts),
    }
    # A run's pin carries its code and the user's history, not the snapshots before it.
    assert git(a, "rev-parse", f"{commit2}^@").split() == [git(a, "rev-parse", "HEAD").strip()]
    on_remote = git(team_remote, "rev-list", "--all").split()
    assert commit1 in on_remote and commit2 in on_remote
    assert not set(work_in_progress) & set(on_remote)

    # Machine B never saw A: checkout by run id fetches the commit from origin by itself.
    b = clone(team_remote, tmp_path / "machine-b")
    git(b, "config", "fetch.prune", "true")  # must not make autocommit drop B's own pins
    refs.pin(b, git(b, "rev-parse", "HEAD").strip())
    b_before = user_state(b)
    code, out, err = main_in_process("-C", str(b), "checkout", run1, "--tracking-uri", server)
    assert code == 0, err
    assert disk_listing(Path(out.strip())) == tree_listing(a, commit1)
    code, out, err = main_in_process("-C", str(b), "fetch")
    assert code == 0, err
    assert refs.pin_ref(commit2) in out
    code, out, err = main_in_process("-C", str(b), "diff", run1, run2, "--name-status",
                                "--tracking-uri", server)  # fmt: skip
    assert code == 0, err
    assert sorted(out.splitlines()) == ["A\tmodel.py", "M\ttrain.py"]
    code, out, err = main_in_process("-C", str(b), "checkout", run2, "--tracking-uri", server)
    assert code == 0, err
    assert disk_listing(Path(out.strip())) == tree_listing(a, commit2)
    assert refs.pin_ref(git(b, "rev-parse", "HEAD").strip()) in refs.list_refs(b)
    assert user_state(b) == b_before

    # A run whose code was not pushed: a one-line error, until push_on_run's push lands.
    monkeypatch.chdir(a)
    (a / "train.py").write_text("lr = 0.5\n")
    run3, commit3 = start_run()
    code, _, err = main_in_process("-C", str(b), "show", run3, "--tracking-uri", server)
    assert "does not have it" in one_line_error(code, err)
    started = time.monotonic()
    push_on_run.push_in_background(find_worktree(a), commit3, "origin")
    assert time.monotonic() - started < 5  # returns at once; the push runs on its own
    deadline = time.monotonic() + 90
    while refs.pin_ref(commit3) not in refs.list_refs(team_remote, contract.PIN_PREFIX):
        assert time.monotonic() < deadline, (a / ".git/autocommit/push.log").read_text()
        time.sleep(0.2)
    code, out, err = main_in_process("-C", str(b), "show", run3, "--tracking-uri", server)
    assert code == 0, err
    assert "M  train.py" in out

    # Shadow branches only when asked, and fetched beside B's own, never over them.
    code, _, err = main_in_process("-C", str(a), "push", "--shadow")
    assert code == 0, err
    a_shadow = git(a, "rev-parse", "refs/autocommit/heads/main").strip()
    assert git(team_remote, "rev-parse", "refs/autocommit/heads/main").strip() == a_shadow
    (b / "notes.txt").write_text("B's own work\n")
    b_shadow = main_in_process("-C", str(b), "snapshot")[1].strip()
    code, out, err = main_in_process("-C", str(b), "fetch", "--shadow")
    assert code == 0, err
    assert git(b, "rev-parse", "refs/autocommit/remotes/origin/heads/main").strip() == a_shadow
    assert git(b, "rev-parse", "refs/autocommit/heads/main").strip() == b_shadow
    code, out, err = main_in_process("-C", str(b), "push", "--shadow")
    assert "rejected" in one_line_error(code, err)  # B's chain would replace A's
    assert git(team_remote, "rev-parse", "refs/autocommit/heads/main").strip() == a_shadow
    assert not_ours(team_remote) == remote_before


def test_push_without_a_remote_is_a_one_line_error(repo: Path) -> None:
    refs.pin(repo, git(repo, "rev-parse", "HEAD").strip())
    code, _, err = main_in_process("-C", str(repo), "push")
    assert "no git remote named 'origin'" in one_line_error(code, err)
    code, _, err = main_in_process("-C", str(repo), "fetch", "elsewhere")
    assert "no git remote named 'elsewhere'" in one_line_error(code, err)
