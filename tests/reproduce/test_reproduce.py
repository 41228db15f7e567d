"""From a run id back to its code: show, diff, checkout and restore, with real MLflow runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import main_in_process, one_line_error
from tests.support.daemon import enable
from tests.support.git import disk_listing, git, new_repository, tree_listing, user_state
from tests.support.mlflow import Tracking, start_run
from tests.support.readme import says

mlflow = pytest.importorskip("mlflow")


def first_code(root: Path) -> None:
    (root / "train.py").write_text("lr = 0.01\nprint('training')\n")
    (root / "notes.md").write_text("try a smaller lr\n")
    (root / "run.sh").write_text("#!/bin/sh\npython train.py\n")
    (root / "run.sh").chmod(0o755)
    (root / "latest.py").symlink_to("train.py")
    (root / "src").mkdir()
    (root / "src" / "model.py").write_text("layers = 2\n")


def second_code(root: Path) -> None:
    (root / "train.py").write_text("lr = 0.001\nprint('training')\n")
    (root / "README.md").unlink()
    (root / "run.sh").chmod(0o644)
    (root / "latest.py").unlink()
    (root / "latest.py").symlink_to("src/model.py")
    (root / "src" / "model.py").unlink()
    (root / "src" / "model.py").mkdir()  # a file becomes a directory
    (root / "src" / "model.py" / "layers.py").write_text("layers = 4\n")
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)


def test_runs_round_trip_diff_checkout_restore(
    enabled: Path, tracking: Tracking, tmp_path: Path
) -> None:
    root = enabled
    venv_file = root / ".venv" / "lib.py"
    venv_file.parent.mkdir()
    venv_file.write_text("ignored, never snapshotted\n")
    (root / ".env").write_text("TOKEN=secret\n")  # left out of snapshots: never touched

    first_code(root)
    run1, commit1 = start_run()
    second_code(root)
    run2, commit2 = start_run()
    assert commit1 != commit2
    original = user_state(root)

    # diff: exactly the edits between the two runs, git diff options passed through
    code, out, err = main_in_process("diff", run1, run2, "--name-status", "--no-renames")
    assert code == 0, err
    assert sorted(out.splitlines()) == sorted(
        ["D\tREADME.md", "M\trun.sh", "M\tlatest.py", "M\ttrain.py",
         "D\tsrc/model.py", "A\tsrc/model.py/layers.py", "A\tdata.bin"]
    )  # fmt: skip
    code, out, _ = main_in_process("diff", run1, run2, "--", "train.py")
    assert code == 0 and "-lr = 0.01\n+lr = 0.001\n" in out and "run.sh" not in out
    code, out, _ = main_in_process("diff", run1, run2, "--name-only", "--", "*.py")
    assert code == 0 and "train.py" in out.splitlines()  # the user's pathspecs are patterns
    code, out, _ = main_in_process("diff", run1, run2, "--stat")
    assert code == 0 and "7 files changed" in out

    # show: the snapshot, the HEAD it was based on, the changes, the files left out
    code, out, err = main_in_process("show", run1, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["commit"] == commit1 and shown["run_id"] == run1
    assert shown["head"] == git(root, "rev-parse", "HEAD").strip()
    assert {(c["status"], c["path"]) for c in shown["changes"]} == {
        ("M", "train.py"), ("A", "notes.md"), ("A", "run.sh"), ("A", "latest.py"),
        ("A", "src/model.py"),
    }  # fmt: skip
    assert {"path": ".env", "reason": "secret-looking name"} in shown["skipped"]
    code, out, _ = main_in_process("show", run2)
    assert code == 0 and f"run       {run2}" in out and "left out of the snapshot" in out
    # a run commit names its snapshot on the shadow branch: same code, and on the chain
    for run_id, commit in ((run1, commit1), (run2, commit2)):
        shown = json.loads(main_in_process("show", run_id, "--json")[1])
        chain = shown["chain_snapshot"] or commit  # None: the snapshot was on HEAD alone
        assert git(root, "rev-parse", f"{chain}^{{tree}}") == git(
            root, "rev-parse", f"{commit}^{{tree}}"
        )
        git(root, "merge-base", "--is-ancestor", chain, shown["shadow_ref"])
    assert shown["chain_snapshot"] and f"on chain  {shown['chain_snapshot']}" in out

    # checkout: a new worktree per run with exactly its tree; the user's state untouched
    for run_id, commit, directory in ((run1, commit1, tmp_path / "one"), (run2, commit2, None)):
        args = ["checkout", run_id] + ([str(directory)] if directory else [])
        code, out, err = main_in_process(*args)
        assert code == 0, err
        where = Path(out.strip())
        assert where == (directory or root.parent / f"repo-run-{run_id[:8]}")
        assert disk_listing(where) == tree_listing(root, commit)
        assert git(where, "rev-parse", "HEAD").strip() == commit
        assert git(where, "status", "--porcelain") == ""
    assert user_state(root) == original

    # restore run 1 in place, then come back: byte for byte the tree we started from
    code, out, err = main_in_process("restore", run1)
    assert code == 0, err
    assert disk_listing(root, set(tree_listing(root, commit1))) == tree_listing(root, commit1)
    snapshot_paths = set(tree_listing(root, commit1)) | set(tree_listing(root, commit2))
    on_disk = set(disk_listing(root)) - {".env", ".venv/lib.py"}
    assert on_disk == set(tree_listing(root, commit1)), on_disk ^ set(tree_listing(root, commit1))
    assert venv_file.read_text() == "ignored, never snapshotted\n"
    assert (root / ".env").read_text() == "TOKEN=secret\n"
    restored = user_state(root)
    assert restored.git_state == original.git_state
    back = out.strip().splitlines()[-1].split("to come back: ")[1]
    saved = back.split()[-1]
    assert git(root, "rev-parse", f"refs/autocommit/pins/{saved}").strip() == saved
    assert set(tree_listing(root, saved)) <= snapshot_paths
    code, out, err = main_in_process(*back.split()[1:])
    assert code == 0, err
    assert user_state(root) == original


def test_restore_keeps_staged_changes_and_is_a_no_op_when_already_there(
    enabled: Path, tracking: Tracking
) -> None:
    root = enabled
    (root / "train.py").write_text("lr = 0.5\n")
    git(root, "add", "train.py")  # staged: restore must leave the index as it is
    (root / "train.py").write_text("lr = 0.7\n")
    _, commit = start_run()
    before = user_state(root)
    code, out, err = main_in_process("restore", commit)
    assert code == 0, err
    assert "already" in out
    assert user_state(root) == before

    code, out, err = main_in_process("restore", "HEAD")
    assert code == 0, err
    assert (root / "train.py").read_text() == "lr = 0.1\nprint('training')\n"
    assert user_state(root).index_bytes == before.index_bytes
    assert git(root, "diff", "--cached", "--name-only").strip() == "train.py"


def test_restore_refuses_to_overwrite_what_no_snapshot_holds(
    enabled: Path, tracking: Tracking
) -> None:
    root = enabled
    (root / "train.log").write_text("tracked in this run\n")
    git(root, "add", "-f", "train.log")
    git(root, "commit", "-q", "-m", "track a log")
    target = git(root, "rev-parse", "HEAD").strip()
    git(root, "rm", "-q", "--cached", "train.log")
    git(root, "commit", "-q", "-m", "untrack it")
    (root / "train.log").write_text("precious output, ignored now\n")
    (root / "train.py").write_text("lr = 9\n")
    assert main_in_process("snapshot")[0] == 0  # the shadow branch is up to date, as with a daemon
    before, refs_before = user_state(root), all_refs(root)

    says("restore refuses with a one-line error and changes nothing")
    code, _, err = main_in_process("restore", target)
    assert "train.log" in one_line_error(code, err)
    assert user_state(root) == before  # nothing written, nothing lost
    assert all_refs(root) == refs_before  # and no restore point pinned


def all_refs(root: Path) -> str:
    return git(root, "for-each-ref", "--format=%(refname) %(objectname)")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["show", "no-such-revision"], "neither a git revision"),
        (["diff", "HEAD", "0123456789abcdef0123456789abcdef"], "no MLflow run"),
        (["checkout", "0123456789abcdef0123456789abcdef"], "no MLflow run"),
        (["restore", "nope~3"], "neither a git revision"),
    ],
)
def test_unknown_targets_are_one_line_errors(
    enabled: Path, tracking: Tracking, args: list[str], expected: str
) -> None:
    before = user_state(enabled)
    code, _, err = main_in_process(*args)
    assert expected in one_line_error(code, err)
    assert user_state(enabled) == before


def test_runs_without_usable_tags_are_one_line_errors(
    enabled: Path, tracking: Tracking, tmp_path: Path
) -> None:
    experiment = tracking.experiment_id
    untagged = tracking.client.create_run(experiment).info.run_id  # no context providers
    failed = tracking.client.create_run(
        experiment, tags={"autocommit.error": "disk full"}
    ).info.run_id
    elsewhere = tracking.client.create_run(
        experiment, tags={"autocommit.commit": "ab" * 20}
    ).info.run_id
    before = user_state(enabled)

    code, _, err = main_in_process("show", untagged)
    assert "has no autocommit tags" in one_line_error(code, err)
    code, _, err = main_in_process("checkout", failed, str(tmp_path / "x"))
    assert "disk full" in one_line_error(code, err)
    code, _, err = main_in_process("diff", elsewhere, "HEAD")
    assert "no git remote 'origin'" in one_line_error(code, err)
    assert not (tmp_path / "x").exists()
    assert user_state(enabled) == before


def test_checkout_into_an_existing_directory_is_refused(enabled: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep me\n")
    code, _, err = main_in_process("checkout", "HEAD", str(taken))
    assert "already exists" in one_line_error(code, err)
    assert [p.name for p in taken.iterdir()] == ["mine.txt"]
    assert git(enabled, "worktree", "list").count("\n") == 1


def test_restore_aborts_when_a_file_changes_after_the_save(
    enabled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocommit.engine import snapshot
    from autocommit.reproduce import restore as reproduce

    root = enabled
    target = git(root, "rev-parse", "HEAD").strip()
    (root / "train.py").write_text("lr = 2\n")
    real_snapshot = snapshot.take_snapshot

    def snapshot_then_edit(*args: Any, **kwargs: Any) -> Any:
        saved = real_snapshot(*args, **kwargs)
        (root / "train.py").write_text("lr = 3, typed after the save\n")  # no snapshot has it
        return saved

    monkeypatch.setattr(reproduce, "take_snapshot", snapshot_then_edit)
    code, _, err = main_in_process("restore", target)
    assert "train.py changed while restoring" in one_line_error(code, err)
    assert "refs/autocommit/pins/" not in all_refs(root)
    assert (root / "train.py").read_text() == "lr = 3, typed after the save\n"


@pytest.mark.parametrize("verb", ["show", "diff", "checkout", "restore"])
def test_looking_up_a_run_without_a_store_creates_nothing(
    enabled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verb: str
) -> None:
    """No MLFLOW_TRACKING_URI: MLflow's default store (``mlflow.db`` in the current
    directory) does not exist, and looking a run up must not create it; nor the
    directories of a mistyped ``--tracking-uri``."""
    run_id = "0123456789abcdef0123456789abcdef"
    args = [verb, run_id, *(["HEAD"] if verb == "diff" else [])]
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    mlflow.set_tracking_uri(None)  # MLflow's own default, as in a new shell
    before = user_state(enabled)
    code, _, err = main_in_process(*args)
    assert f"no MLflow database at {enabled / 'mlflow.db'}" in one_line_error(code, err)
    missing = tmp_path / "nonexistent" / "x.db"
    code, _, err = main_in_process(*args, "--tracking-uri", f"sqlite:///{missing}")
    assert f"no MLflow database at {missing}" in one_line_error(code, err)
    assert not missing.parent.exists()
    assert user_state(enabled) == before  # no mlflow.db, nothing else either


@pytest.mark.parametrize("before", [True, False], ids=["option-first", "option-last"])
def test_diff_takes_the_tracking_uri_before_or_after_its_targets(
    enabled: Path, tracking: Tracking, monkeypatch: pytest.MonkeyPatch, before: bool
) -> None:
    first_code(enabled)
    run1, _ = start_run()
    second_code(enabled)
    run2, _ = start_run()
    option = ["--tracking-uri", os.environ["MLFLOW_TRACKING_URI"]]
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(None)  # only the option names the store
    targets = [run1, run2, "--name-only"]
    code, out, err = main_in_process("diff", *(option + targets if before else targets + option))
    assert code == 0, err
    assert "train.py" in out.splitlines()


def test_a_run_id_prefix_works_like_the_whole_id(enabled: Path, tracking: Tracking) -> None:
    first_code(enabled)
    run1, commit1 = start_run()
    second_code(enabled)
    run2, commit2 = start_run()
    short1, short2 = run1[:8], run2[:8]  # what `autocommit runs` prints
    code, out, err = main_in_process("runs")
    assert code == 0 and short1 in out, err

    code, out, err = main_in_process("show", short1, "--json")
    assert code == 0, err
    assert json.loads(out)["run_id"] == run1 and json.loads(out)["commit"] == commit1
    code, out, err = main_in_process("diff", short1, f"runs:/{short2}", "--name-only")
    assert code == 0, err
    assert "train.py" in out.split()
    code, out, err = main_in_process("checkout", short2)
    assert code == 0, err
    assert git(Path(out.strip()), "rev-parse", "HEAD").strip() == commit2
    code, out, err = main_in_process("restore", short1)
    assert code == 0, err
    assert out.startswith(f"restored run {run1}")


def test_an_ambiguous_run_id_prefix_lists_the_candidates(
    enabled: Path, tracking: Tracking, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uuid

    chosen = iter([uuid.UUID("abcd1" + "0" * 27), uuid.UUID("abcd2" + "0" * 27)])
    with monkeypatch.context() as patch:  # real runs, with ids that share 4 digits
        patch.setattr(uuid, "uuid4", lambda: next(chosen))
        run1, _ = start_run()
        (enabled / "train.py").write_text("lr = 0.5\n")
        run2, commit2 = start_run()
    assert (run1[:4], run2[:4]) == ("abcd", "abcd")
    before = user_state(enabled)
    for verb in ("show", "checkout", "restore"):
        code, _, err = main_in_process(verb, "abcd")
        line = one_line_error(code, err)
        assert "ambiguous" in line and run1 in line and run2 in line, line
    code, out, err = main_in_process("show", "abcd2", "--json")
    assert code == 0 and json.loads(out)["commit"] == commit2, err
    code, _, err = main_in_process("show", "abcd3")
    assert "no MLflow run abcd3" in one_line_error(code, err)
    assert user_state(enabled) == before


def test_a_run_commit_and_its_summary_describe_the_change_from_head(
    enabled: Path, tracking: Tracking
) -> None:
    """The second run's snapshot follows the first on the shadow branch (one file changed
    since it), but the run had two files changed vs HEAD: that is what its commit's
    subject and `show` say. The run commit stays the same however it is made."""
    from autocommit.engine.run_commit import run_commit
    from autocommit.engine.snapshot import take_snapshot
    from autocommit.gitio.repo import find_worktree

    (enabled / "notes.md").write_text("try a smaller lr\n")
    start_run()
    (enabled / "train.py").write_text("lr = 0.001\n")
    run_id, commit = start_run()
    expected = "2 files: add notes.md, modify train.py"
    assert git(enabled, "log", "-1", "--format=%s", commit).strip() == f"autocommit: {expected}"
    chain = git(enabled, "log", "-1", "--format=%s", "autocommit/heads/main").strip()
    assert chain == "autocommit: 1 file: modify train.py"  # the snapshot's own: since the last
    code, out, err = main_in_process("show", run_id)
    assert code == 0, err
    assert f"summary   {expected}\n" in out and "2 files changed vs HEAD" in out
    # made again without the engine's summary (as git lists it): the same commit
    snap = take_snapshot(find_worktree(enabled))
    assert run_commit(find_worktree(enabled), snap) == commit


def test_show_and_diff_report_the_runs_context(enabled: Path, tracking: Any) -> None:
    """``show`` lists a run's context; ``diff --context`` says which data files differ."""
    (enabled / ".gitignore").write_text(".venv/\n*.log\ndata/\n")
    git(enabled, "commit", "-q", "-am", "ignore data")
    (enabled / "data").mkdir()
    (enabled / "data" / "train.csv").write_text("x\n1\n")
    (enabled / "data" / "test.csv").write_text("x\n2\n")
    first, code = start_run()
    (enabled / "data" / "train.csv").write_text("x\n3\n")
    second, same_code = start_run()
    assert same_code == code
    status, out, err = main_in_process("show", first)
    assert status == 0, err
    assert "environment  Python " in out and "distributions" in out
    assert "data         2 files (2 hashed)" in out
    status, shown, _ = main_in_process("show", first, "--json")
    context = json.loads(shown)["context"]
    tags = mlflow.MlflowClient().get_run(first).data.tags
    assert context["commit"] == tags["autocommit.context"] and context["session"] is None
    status, out, err = main_in_process("diff", first, second, "--context")
    assert status == 1, err
    assert "environment.txt: the same" in out and "session.py: the same" in out
    assert out.endswith("data files that differ:\n  M  data/train.csv\n")


def test_checkout_puts_the_context_and_enabled_dependencies_beside_the_code(
    enabled: Path, tracking: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    lib = tmp_path / "mylib"
    new_repository(lib, {"ctxlib_checkout.py": "SCALE = 2\n"}, "library")
    enable(lib)
    (lib / "ctxlib_checkout.py").write_text("SCALE = 3  # not committed\n")
    (lib / "helper.py").write_text("EXTRA = 1\n")
    monkeypatch.syspath_prepend(str(lib))
    monkeypatch.setitem(sys.modules, "ctxlib_checkout", None)  # forgotten at teardown
    del sys.modules["ctxlib_checkout"]
    __import__("ctxlib_checkout")  # imported for the run
    run_id, _ = start_run()
    target = tmp_path / "out"
    status, _, err = main_in_process("checkout", run_id, str(target))
    assert status == 0, err
    beside = tmp_path / "out.context"
    assert (beside / "environment.txt").read_text().startswith("Python ")
    assert not (beside / "session.py").exists()  # pytest is no notebook
    assert disk_listing(beside / "mylib") == disk_listing(lib)
    assert git(beside / "mylib", "status", "--porcelain") == ""
