"""The MLflow plugin with real MLflow: every run is tagged with the exact code it ran."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autocommit import contract
from autocommit.tracking import run_tags
from tests.support.cli import run_cli
from tests.support.daemon import enable
from tests.support.git import assert_private, git, tree_listing, user_state
from tests.support.mlflow import (
    EDIT_KINDS,
    Tracking,
    assert_run_commit,
    daemon_available,
    pinned,
    random_edit,
    running_daemon,
    tree_of,
)
from tests.support.oracle import expected_tree
from tests.support.readme import says

mlflow = pytest.importorskip("mlflow")

AUTOCOMMIT_KEYS = {"autocommit.commit", "autocommit.head", "autocommit.dirty",
                   "autocommit.branch", "autocommit.changes"}  # fmt: skip


def start_and_tags() -> dict[str, str]:
    with mlflow.start_run() as run:
        tags: dict[str, str] = run.data.tags
    return tags


def zero_pause_runs(root: Path, runs: int, seed: int) -> None:
    """Edit, then start a run at once, ``runs`` times: each run gets exactly that tree."""
    rng = random.Random(seed)
    seen: list[str] = []
    kinds: set[str] = set()
    for step in range(runs):
        did = random_edit(root, rng, step)
        kinds.add(did.split()[0])
        expected = expected_tree(root)
        before = user_state(root)
        tags = start_and_tags()
        assert user_state(root) == before, f"step {step} ({did}) changed user state"
        assert "autocommit.error" not in tags, tags["autocommit.error"]
        commit = tags["autocommit.commit"]
        head, tree = git(root, "rev-parse", "HEAD", f"{commit}^{{tree}}").split()
        if tree != expected:
            diff = git(root, "diff-tree", "-r", "--name-status", expected, tree)
            pytest.fail(f"step {step} ({did}): the run's snapshot differs:\n{diff}")
        assert tags["autocommit.head"] == head
        assert tags["autocommit.dirty"] == ("false" if commit == head else "true")
        assert tags["mlflow.source.git.commit"] == commit
        shadow_tip = git(root, "rev-parse", tags["autocommit.branch"]).strip()
        assert tree_of(root, shadow_tip) == tree  # clean or not, the tip holds the run's tree
        if commit != head:  # the shadow tip is the run's snapshot: nothing changed since
            snapshot = git(root, "rev-parse", tags["autocommit.branch"]).strip()
            assert_run_commit(root, commit, snapshot)
        seen.append(commit)
    assert kinds == EDIT_KINDS, f"never tried: {EDIT_KINDS - kinds}"
    assert set(seen) <= pinned(root), "every commit handed to a run is pinned"
    git(root, "fsck", "--no-progress")


def test_zero_pause_exactness_without_daemon(
    enabled: Path, tracking: Tracking, tmp_path: Path
) -> None:
    zero_pause_runs(enabled, runs=200, seed=4)


@pytest.mark.skipif(not daemon_available(), reason="`autocommit start` (the daemon) is missing")
def test_zero_pause_exactness_with_daemon(
    enabled: Path, tracking: Tracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_in_process_snapshots(*args: object, **kwargs: object) -> None:
        raise AssertionError("the plugin snapshotted in-process although a daemon runs")

    with running_daemon(enabled):
        monkeypatch.setattr("autocommit.engine.snapshot.take_snapshot", no_in_process_snapshots)
        zero_pause_runs(enabled, runs=200, seed=5)


@pytest.mark.skipif(not daemon_available(), reason="`autocommit start` (the daemon) is missing")
def test_autostart_starts_the_daemon_without_delaying_the_run(
    enabled: Path, tracking: Tracking
) -> None:
    from autocommit.daemon import client
    from autocommit.gitio.repo import find_worktree

    git(enabled, "config", "autocommit.autostart", "true")
    worktree = find_worktree(enabled)
    assert not client.is_running(worktree)
    (enabled / "train.py").write_text("lr = 0.6\n")
    try:
        tags = start_and_tags()  # snapshotted in-process; the daemon starts meanwhile
        assert git(enabled, "show", f"{tags['autocommit.commit']}:train.py") == "lr = 0.6\n"
        deadline = time.monotonic() + 60
        while not client.is_running(worktree):
            assert time.monotonic() < deadline, "autostart did not start the daemon"
            time.sleep(0.1)
        (enabled / "train.py").write_text("lr = 0.7\n")
        tags = start_and_tags()
        assert git(enabled, "show", f"{tags['autocommit.commit']}:train.py") == "lr = 0.7\n"
    finally:
        client.stop(worktree)


def test_long_lived_process_gets_a_new_correct_commit_per_run(
    enabled: Path, tracking: Tracking, tmp_path: Path
) -> None:
    train = enabled / "train.py"
    first = start_and_tags()
    assert first["autocommit.commit"] == git(enabled, "rev-parse", "HEAD").strip()
    assert first["autocommit.dirty"] == "false" and first["autocommit.changes"] == "none"

    train.write_text("lr = 0.01\nprint('training')\n")
    second = start_and_tags()
    assert second["autocommit.commit"] != first["autocommit.commit"]
    assert git(enabled, "show", f"{second['autocommit.commit']}:train.py") == train.read_text()
    assert second["autocommit.dirty"] == "true"
    assert second["autocommit.branch"] == "refs/autocommit/heads/main"
    first_snapshot = git(enabled, "rev-parse", "refs/autocommit/heads/main").strip()
    assert_run_commit(enabled, second["autocommit.commit"], first_snapshot)
    # one line, total first: MLflow's run page shows a tag on one line, cut to its start
    assert (
        second["autocommit.changes"]
        == "1 file changed, 1 insertion(+), 1 deletion(-): train.py +1 -1"
    )

    tip = git(enabled, "rev-parse", "refs/autocommit/heads/main")
    again = start_and_tags()  # nothing changed: the same commit, no new one
    assert again["autocommit.commit"] == second["autocommit.commit"]
    assert git(enabled, "rev-parse", "refs/autocommit/heads/main") == tip

    git(enabled, "commit", "-qam", "smaller lr")  # HEAD moves: MLflow's own value goes stale
    committed = start_and_tags()
    head = git(enabled, "rev-parse", "HEAD").strip()
    assert committed["autocommit.commit"] == head
    assert committed["mlflow.source.git.commit"] == head
    assert head in pinned(enabled)
    joined = git(enabled, "rev-parse", "refs/autocommit/heads/main").strip()  # HEAD's tree
    assert git(enabled, "rev-parse", f"{joined}^@").split() == [first_snapshot, head]

    train.write_text("lr = 0.1\nprint('training')\n")  # back to the first run's code
    back = start_and_tags()
    assert tree_of(enabled, back["autocommit.commit"]) == tree_of(
        enabled, first["autocommit.commit"]
    )
    assert back["autocommit.head"] == head
    # The chain snapshot builds on the earlier ones (joined to HEAD by the clean run); the
    # run's commit on HEAD alone, so its pin keeps no earlier snapshot alive.
    snapshot = git(enabled, "rev-parse", "refs/autocommit/heads/main").strip()
    assert git(enabled, "rev-parse", f"{snapshot}^@").split() == [joined]
    assert back["autocommit.commit"] != snapshot
    assert_run_commit(enabled, back["autocommit.commit"], snapshot)
    assert back["autocommit.commit"] in pinned(enabled) and snapshot not in pinned(enabled)
    assert start_and_tags()["autocommit.commit"] == back["autocommit.commit"]  # the same again


def test_a_run_on_work_undone_is_tagged_with_head_and_the_shadow_tip_follows(
    enabled: Path, tracking: Tracking
) -> None:
    with open(enabled / "train.py", "a") as handle:
        handle.write("wip\n")
    assert start_and_tags()["autocommit.dirty"] == "true"
    git(enabled, "checkout", "--", "train.py")
    tags = start_and_tags()  # in this process: no daemon runs
    head = git(enabled, "rev-parse", "HEAD").strip()
    assert (tags["autocommit.commit"], tags["autocommit.dirty"]) == (head, "false")
    assert tags["autocommit.changes"] == "none"
    assert git(enabled, "diff", "HEAD", tags["autocommit.branch"]) == ""
    git(enabled, "merge-base", "--is-ancestor", "HEAD", tags["autocommit.branch"])
    assert head in pinned(enabled)


def test_nested_runs_are_each_tagged_with_their_own_code(enabled: Path, tracking: Tracking) -> None:
    with mlflow.start_run() as parent:
        (enabled / "model.py").write_text("layers = 3\n")
        with mlflow.start_run(nested=True) as child:
            pass
    parent_tags, child_tags = parent.data.tags, child.data.tags
    assert child_tags["mlflow.parentRunId"] == parent.info.run_id
    assert "model.py" not in tree_listing(enabled, parent_tags["autocommit.commit"])
    assert "model.py" in tree_listing(enabled, child_tags["autocommit.commit"])


def test_autolog_runs_and_their_child_runs_are_tagged(enabled: Path, tracking: Tracking) -> None:
    import numpy as np
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV

    from autocommit.engine.snapshot import take_snapshot
    from autocommit.gitio.repo import find_worktree

    (enabled / "train.py").write_text("import sklearn\n")
    take_snapshot(find_worktree(enabled))  # an earlier one: the runs' snapshot builds on it
    (enabled / "train.py").write_text("from sklearn.linear_model import Ridge\n")
    mlflow.sklearn.autolog(log_models=False, log_datasets=True, silent=True)
    try:
        X = np.arange(8.0).reshape(-1, 1)
        y = np.arange(8.0)
        Ridge().fit(X, y)
        search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=2)
        search.fit(X, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    runs = tracking.client.search_runs([tracking.experiment_id])
    assert len(runs) == 4, "two autolog runs and two parameter-search child runs"
    snapshot = git(enabled, "rev-parse", "refs/autocommit/heads/main").strip()
    commit = runs[0].data.tags["autocommit.commit"]
    assert_run_commit(enabled, commit, snapshot)
    assert commit != snapshot
    for found in runs:
        assert found.data.tags["autocommit.commit"] == commit
        assert found.data.tags["mlflow.source.git.commit"] == commit
    assert sum("mlflow.parentRunId" in r.data.tags for r in runs) == 2


def test_repository_not_enabled_gets_no_tags(
    repo: Path, tracking: Tracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo)
    (repo / "train.py").write_text("lr = 0.5\n")
    before = user_state(repo)
    tags = start_and_tags()
    assert not {k for k in tags if k.startswith("autocommit.")}
    assert git(repo, "for-each-ref", "refs/autocommit/") == ""
    assert not (repo / ".git" / "autocommit").exists()  # nothing written into .git either
    assert user_state(repo) == before


def test_environment_switch_turns_the_plugin_off(
    enabled: Path, tracking: Tracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOCOMMIT_ENABLED", "false")
    tags = start_and_tags()
    assert not {k for k in tags if k.startswith("autocommit.")}
    monkeypatch.delenv("AUTOCOMMIT_ENABLED")
    assert set(start_and_tags()) >= AUTOCOMMIT_KEYS


def test_outside_any_repository_gets_no_tags(
    tmp_path: Path, tracking: Tracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    assert not {k for k in start_and_tags() if k.startswith("autocommit.")}


def test_entry_script_repository_wins_over_current_directory(
    enabled: Path, tracking: Tracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(sys, "argv", [str(enabled / "train.py")])
    (enabled / "train.py").write_text("lr = 0.2\n")
    tags = start_and_tags()
    assert git(enabled, "show", f"{tags['autocommit.commit']}:train.py") == "lr = 0.2\n"
    # A launcher of the Python installation (pytest, ipykernel) is not the code: cwd is.
    monkeypatch.setattr(sys, "argv", [sys.executable])
    assert run_tags.entry_directory() == elsewhere


@pytest.mark.parametrize("script_in", ["no repository", "a repository not enabled"])
def test_a_script_outside_the_enabled_repository_it_starts_from_is_warned_about(
    enabled: Path,
    tracking: Tracking,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    script_in: str,
) -> None:
    says("A script that lives outside the repository gets no tags even when started from "
         "inside an enabled one")  # fmt: skip
    says("the plugin then warns once that its runs are not tagged")
    assert run_cli(enabled, "init", "--no-daemon", "--no-hooks").returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if script_in == "a repository not enabled":
        git(elsewhere, "init", "-q")
    script = elsewhere / "try.py"
    script.write_text("import mlflow\n")
    monkeypatch.setattr(sys, "argv", [str(script)])  # started from `enabled`, the cwd
    caplog.set_level(logging.WARNING, logger="autocommit")
    for _ in range(2):
        assert not {k for k in start_and_tags() if k.startswith("autocommit.")}
    warnings = [r.getMessage() for r in caplog.records if r.name == "autocommit"]
    assert len(warnings) == 1, warnings
    assert f"{script} is outside {enabled}, where autocommit is enabled" in warnings[0]
    assert "no autocommit tags" in warnings[0]


def test_a_script_outside_a_repository_not_enabled_is_not_warned_about(
    repo: Path,
    tracking: Tracking,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    says("Where autocommit is not enabled it says nothing.")
    script = tmp_path / "try.py"
    script.write_text("import mlflow\n")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(sys, "argv", [str(script)])
    caplog.set_level(logging.DEBUG, logger="autocommit")
    assert not {k for k in start_and_tags() if k.startswith("autocommit.")}
    assert not [r for r in caplog.records if r.name == "autocommit"]


def test_broken_repository_still_creates_the_run_with_an_error(
    enabled: Path, tracking: Tracking, caplog: pytest.LogCaptureFixture
) -> None:
    (enabled / ".git" / "index").write_bytes(b"this is not an index")
    caplog.set_level(logging.WARNING, logger="autocommit")
    for _ in range(2):
        with mlflow.start_run() as run:
            mlflow.log_param("lr", 0.1)
        stored = tracking.client.get_run(run.info.run_id)
        assert stored.data.params == {"lr": "0.1"}
        assert "autocommit.commit" not in stored.data.tags
        assert "index" in stored.data.tags["autocommit.error"]
    warnings = [r for r in caplog.records if r.name == "autocommit"]
    assert len(warnings) == 1, "the warning is printed once"
    assert "no snapshot for this run" in warnings[0].getMessage()


def test_bad_setting_is_reported_on_the_run(enabled: Path, tracking: Tracking) -> None:
    git(enabled, "config", "autocommit.maxfilesize", "huge")
    tags = start_and_tags()
    assert "max_file_size" in tags["autocommit.error"]
    assert "autocommit.commit" not in tags


def test_a_half_edited_pyproject_gives_way_to_the_settings_last_read(
    enabled: Path, tracking: Tracking, caplog: pytest.LogCaptureFixture
) -> None:
    (enabled / "pyproject.toml").write_text('[tool.autocommit]\nexclude = ["*.csv"]\n')
    (enabled / "data.csv").write_text("a,b\n")
    first = start_and_tags()
    assert "data.csv" not in tree_listing(enabled, first["autocommit.commit"])
    half_edited = '[tool.autocommit\nexclude = ["*.csv"\n'
    (enabled / "pyproject.toml").write_text(half_edited)
    (enabled / "train.py").write_text("lr = 0.5\n")
    caplog.set_level(logging.WARNING, logger="autocommit")
    for _ in range(2):
        before = user_state(enabled)
        tags = start_and_tags()
        assert user_state(enabled) == before
        assert "autocommit.error" not in tags
        commit = tags["autocommit.commit"]
        assert "data.csv" not in tree_listing(enabled, commit)  # the exclusions still hold
        assert git(enabled, "show", f"{commit}:pyproject.toml") == half_edited  # as it is
    warnings = [r.getMessage() for r in caplog.records if r.name == "autocommit"]
    # (This checkout, imported by the test process, is a dependency that is not enabled:
    # its own warning is not the one looked at here.)
    about_settings = [w for w in warnings if "imports code from" not in w]
    assert len(about_settings) == 1 and "settings last read" in about_settings[0], warnings
    git(enabled, "config", "autocommit.enabled", "false")  # still heard while it is broken
    assert not AUTOCOMMIT_KEYS & set(start_and_tags())


def test_change_summary_lists_as_many_files_as_fit(enabled: Path, tracking: Tracking) -> None:
    says("as many files as fit in 5000 characters")
    assert contract.MAX_TAG_VALUE == 5000
    for i in range(201):  # more than git's --stat shows by default: every one is listed
        (enabled / f"module_{i:03}.py").write_text(f"x = {i}\n")
    changes = start_and_tags()["autocommit.changes"]
    assert changes.startswith("201 files changed, 201 insertions(+): module_000.py (new) +1, ")
    assert "… and" not in changes
    assert changes.count(" (new) +1") == 201


def test_change_summary_fits_the_tag_limit(enabled: Path, tracking: Tracking) -> None:
    says("as many files as fit in 5000 characters")
    many = enabled / ("a-rather-long-directory-name-" * 3)
    many.mkdir()
    for i in range(400):
        (many / f"generated_module_with_a_long_name_{i:04}.py").write_text(f"x = {i}\n")
    changes = start_and_tags()["autocommit.changes"]
    assert len(changes) <= contract.MAX_TAG_VALUE
    assert changes.startswith("400 files changed, 400 insertions(+): ")
    listed = changes.split(": ", 1)[1].split(", ")
    assert listed[-1].startswith("… and ") and listed[-1].endswith(" more")
    assert int(listed[-1].split()[2]) == 400 - (len(listed) - 1)
    assert "\n" not in changes
    # Filled up: one more file would not have fit (no fixed count of files).
    assert len(changes) + len(listed[1]) + 2 > contract.MAX_TAG_VALUE


def test_skipped_files_are_listed_on_the_run(enabled: Path, tracking: Tracking) -> None:
    (enabled / ".env").write_text("API_KEY=hunter2\n")
    tags = start_and_tags()
    assert ".env" not in tree_listing(enabled, tags["autocommit.commit"])
    assert tags["autocommit.skipped"] == ".env (secret-looking name)"


def test_an_owner_only_file_is_left_out_of_the_run(enabled: Path, tracking: Tracking) -> None:
    (enabled / "private.txt").write_text("token=7d1c0ffee\n")
    os.chmod(enabled / "private.txt", 0o600)
    (enabled / "public.txt").write_text("for the team\n")
    tags = start_and_tags()
    tree = tree_listing(enabled, tags["autocommit.commit"])
    assert "private.txt" not in tree and "public.txt" in tree
    assert tags["autocommit.skipped"] == "private.txt (readable only by its owner)"
    blob = git(enabled, "hash-object", "private.txt").strip()
    assert subprocess.run(["git", "cat-file", "-e", blob], cwd=enabled).returncode != 0


def test_public_function_tags_runs_created_without_context_providers(
    enabled: Path, tracking: Tracking
) -> None:
    import autocommit

    (enabled / "train.py").write_text("lr = 0.3\n")
    created = tracking.client.create_run(tracking.experiment_id, tags=autocommit.mlflow_tags())
    commit = created.data.tags["autocommit.commit"]
    assert git(enabled, "show", f"{commit}:train.py") == "lr = 0.3\n"
    assert commit in pinned(enabled)

    (enabled / "train.py").write_text("lr = 0.4\n")  # resumed later, with other code
    with mlflow.start_run(run_id=created.info.run_id, tags=autocommit.mlflow_tags(enabled)):
        pass
    resumed = tracking.client.get_run(created.info.run_id).data.tags["autocommit.commit"]
    assert git(enabled, "show", f"{resumed}:train.py") == "lr = 0.4\n"


def test_push_on_run_shares_the_pin_in_the_background(
    enabled: Path, tracking: Tracking, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(enabled, "remote", "add", "origin", str(remote))
    git(enabled, "config", "autocommit.pushonrun", "true")
    (enabled / "train.py").write_text("lr = 0.7\n")
    started = time.monotonic()
    commit = start_and_tags()["autocommit.commit"]
    assert time.monotonic() - started < 5, "start_run does not wait for the push"
    deadline = time.monotonic() + 60
    while not (pushed := git(remote, "for-each-ref", "--format=%(refname)")):
        assert time.monotonic() < deadline, "the pin was never pushed"
        time.sleep(0.2)
    assert pushed == f"refs/autocommit/pins/{commit}\n", "only the pin, none of the branches"
    assert (enabled / ".git" / "autocommit" / "push.log").is_file()
    assert_private(enabled / ".git" / "autocommit")


def test_plugin_is_registered_light_and_imports_without_mlflow() -> None:
    script = (
        "import sys, mlflow\n"
        "from mlflow.tracking.context.registry import _run_context_provider_registry as r\n"
        "print(*[type(p).__name__ for p in r])\n"
        "print(*sorted(m for m in sys.modules if m.startswith('autocommit')))\n"
    )
    providers, loaded = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                       text=True, check=True).stdout.splitlines()  # fmt: skip
    assert providers.split()[-1] == "AutocommitRunContextProvider", "merged last: ours win"
    assert loaded.split() == ["autocommit", "autocommit.mlflow_plugin"], "nothing heavy"

    without_mlflow = (
        "import sys; sys.modules['mlflow'] = None\n"
        "from autocommit.mlflow_plugin import AutocommitRunContextProvider as P\n"
        "print(P().in_context())\n"
    )
    done = subprocess.run([sys.executable, "-c", without_mlflow], capture_output=True,
                          text=True, cwd="/")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_linked_worktree_runs_get_its_own_branch_and_code(
    enabled: Path, tracking: Tracking, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    linked = tmp_path / "linked"
    git(enabled, "worktree", "add", "-q", "-b", "experiment", str(linked))
    (linked / "train.py").write_text("lr = 0.9\n")
    monkeypatch.chdir(linked)
    before = user_state(linked)
    tags = start_and_tags()
    assert user_state(linked) == before
    assert tags["autocommit.branch"] == "refs/autocommit/heads/experiment"
    assert tree_of(linked, tags["autocommit.commit"]) == expected_tree(linked)
    from autocommit.gitio.repo import find_worktree

    for root in (enabled, linked):
        found = find_worktree(root)
        ours = run_tags.worktree_at(root)
        assert (ours.git_dir.resolve(), ours.common_dir.resolve()) == (
            found.git_dir.resolve(),
            found.common_dir.resolve(),
        )


def test_repository_without_commits_is_snapshotted_too(
    tmp_path: Path, tracking: Tracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q")
    enable(fresh)
    (fresh / "train.py").write_text("lr = 1.0\n")
    monkeypatch.chdir(fresh)
    tags = start_and_tags()
    assert "autocommit.head" not in tags
    assert tags["autocommit.dirty"] == "true"
    assert tags["autocommit.changes"] == "1 file changed, 1 insertion(+): train.py (new) +1"
    assert tree_of(fresh, tags["autocommit.commit"]) == expected_tree(fresh)


def test_unusable_daemon_answer_falls_back_to_an_exact_in_process_snapshot(
    enabled: Path, tracking: Tracking, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A daemon of another version answers sync with a snapshot this one cannot read."""
    import socket

    from autocommit.daemon.control import DaemonFiles, socket_address
    from autocommit.gitio.repo import find_worktree

    path = DaemonFiles.of(find_worktree(enabled)).socket
    path.parent.mkdir(parents=True, exist_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with socket_address(path) as address:
        server.bind(address)
    server.listen()

    def answer_badly() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(b'{"ok": true, "snapshot": {"sha": "from the future"}}\n')

    threading.Thread(target=answer_badly, daemon=True).start()
    caplog.set_level(logging.WARNING, logger="autocommit")
    try:
        (enabled / "train.py").write_text("lr = 0.8\n")
        tags = start_and_tags()
    finally:
        server.close()
        path.unlink()
    assert tree_of(enabled, tags["autocommit.commit"]) == expected_tree(enabled)
    assert any("not usable" in r.getMessage() for r in caplog.records)
