"""A run's context is written together with its run commit: by the daemon in the run's
sync request, or by the in-process snapshot; the run's process writes it only when
neither could (a context too large for a request, a failure)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import autocommit
from autocommit import contract
from autocommit.daemon import control, service
from autocommit.gitio import git as autocommit_git
from autocommit.gitio.repo import Worktree
from tests.support.git import git, identity_of, user_state
from tests.support.mlflow import pinned, tree_of
from tests.support.oracle import expected_tree

WRITERS = {"hash-object", "update-ref", "mktree", "fast-import"}  # what writes objects or refs


@pytest.fixture
def processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Every git command started by this process (run or through pipes), in order."""
    seen: list[list[str]] = []
    real_run, real_popen = autocommit_git.run, autocommit_git.popen

    def recording_run(args: Any, *rest: Any, **options: Any) -> Any:
        seen.append(list(args))
        return real_run(args, *rest, **options)

    def recording_popen(args: Any, *rest: Any, **options: Any) -> Any:
        seen.append(list(args))
        return real_popen(args, *rest, **options)

    monkeypatch.setattr(autocommit_git, "run", recording_run)
    monkeypatch.setattr(autocommit_git, "popen", recording_popen)
    yield seen


def writers(seen: list[list[str]]) -> list[list[str]]:
    return [args for args in seen if args and args[0] in WRITERS]


def assert_context(root: Path, tags: dict[str, str]) -> str:
    """The run's context is a pinned commit on its run commit, the run commit exact."""
    assert contract.ERROR_TAG not in tags and contract.CONTEXT_ERROR_TAG not in tags, tags
    context = tags[contract.CONTEXT_TAG]
    assert git(root, "rev-parse", f"{context}^@").split() == [tags[contract.COMMIT_TAG]]
    assert tree_of(root, tags[contract.COMMIT_TAG]) == expected_tree(root)
    assert {context, tags[contract.COMMIT_TAG]} <= pinned(root)
    return context


def test_with_the_daemon_the_run_s_process_writes_nothing(
    daemon: Worktree, processes: list[list[str]]
) -> None:
    root = daemon.root
    (root / "train.py").write_text("lr = 0.2\n")
    before = user_state(root)
    tags = autocommit.mlflow_tags(root)
    context = assert_context(root, tags)
    assert writers(processes) == [], "the context was written by the run's process"
    names = git(root, "ls-tree", "--name-only", context).split()
    assert contract.CONTEXT_ENVIRONMENT in names and contract.CONTEXT_DATA in names
    environment = git(root, "show", f"{context}:{contract.CONTEXT_ENVIRONMENT}")
    assert environment.startswith("Python ")
    again = autocommit.mlflow_tags(root)  # the same code, the same context: the same commit
    assert again[contract.CONTEXT_TAG] == context and writers(processes) == []
    assert user_state(root) == before
    git(root, "fsck", "--strict", "--no-progress")


def test_the_daemon_s_context_is_the_commit_git_itself_makes(
    daemon: Worktree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Byte for byte what ``git mktree`` and ``git commit-tree`` make of the same files on
    the run commit, with its author and dates (bytes that are not UTF-8 included)."""
    root = daemon.root
    odd = b"[\n" + json.dumps({"path": "data/x"}).encode() + b"\xff\xfe\n]\n"
    monkeypatch.setattr("autocommit.tracking.data_files.data_json", lambda *args: odd)
    (root / "train.py").write_text("lr = 0.4\n")
    tags = autocommit.mlflow_tags(root)
    context = assert_context(root, tags)
    shown = autocommit_git.run(["show", f"{context}:{contract.CONTEXT_DATA}"], root).stdout
    assert shown == odd
    files = {
        name: autocommit_git.run(["show", f"{context}:{name}"], root).stdout
        for name in git(root, "ls-tree", "--name-only", context).split()
    }
    assert by_git(root, tags[contract.COMMIT_TAG], files) == context


def by_git(root: Path, parent: str, files: dict[str, bytes]) -> str:
    """The commit ``git mktree`` and ``git commit-tree`` make of ``files`` on ``parent``,
    with the parent's author, committer and dates."""
    run = autocommit_git.run
    blobs = {name: run(["hash-object", "-w", "--stdin"], root, input=content).stdout
             for name, content in files.items()}  # fmt: skip
    lines = [f"100644 blob {blob.decode().strip()}\t{name}" for name, blob in blobs.items()]
    tree = run(["mktree"], root, input="\n".join(lines).encode() + b"\n").stdout.decode().strip()
    env = identity_of(root, parent)[0]
    message = contract.CONTEXT_MESSAGE.encode()
    made = run(["commit-tree", tree, "-p", parent], root, input=message, env=env)
    return made.stdout.decode().strip()


def test_a_context_too_large_for_a_request_is_written_by_the_run(
    daemon: Worktree, monkeypatch: pytest.MonkeyPatch, processes: list[list[str]]
) -> None:
    root = daemon.root
    large = b"[\n" + b"x" * (control.MAX_REQUEST + 1) + b"\n]\n"
    monkeypatch.setattr("autocommit.tracking.data_files.data_json", lambda *args: large)
    (root / "train.py").write_text("lr = 0.5\n")
    tags = autocommit.mlflow_tags(root)
    context = assert_context(root, tags)
    assert autocommit_git.run(["show", f"{context}:{contract.CONTEXT_DATA}"], root).stdout == large
    assert writers(processes), "the daemon was sent a request over its bound"


def test_a_malformed_context_is_refused_and_the_run_goes_on(
    daemon: Worktree, processes: list[list[str]]
) -> None:
    root = daemon.root
    bad: list[object] = [{"../escape": "x"}, {contract.CONTEXT_DATA: 1}, [], {}]
    for context in bad:
        answer = control.request(daemon, {"op": "sync", "run": True, "context": context}, 30)
        assert answer["ok"] is False and "bad context" in answer["error"], context
    (root / "train.py").write_text("lr = 0.6\n")
    assert_context(root, autocommit.mlflow_tags(root))
    assert writers(processes) == []
    assert client_is_running(daemon)


def client_is_running(worktree: Worktree) -> bool:
    from autocommit.daemon import client

    return client.is_running(worktree)


def test_without_a_daemon_the_context_is_pinned_with_the_snapshot(
    enabled: Path, processes: list[list[str]]
) -> None:
    for lr in ("0.7", "0.8"):  # the first run also makes the shadow branch's reflog
        (enabled / "train.py").write_text(f"lr = {lr}\n")
        processes.clear()
        tags = autocommit.mlflow_tags(enabled)
        assert_context(enabled, tags)
    made = [args[:3] for args in writers(processes)]
    assert made.count(["update-ref", "-m", "autocommit: snapshot"]) == 1, processes
    # The snapshot, run and context commits, trees and blobs are written from Python:
    # git only hashes the edited file (its filters apply) and moves the refs.
    assert ["hash-object", "-w", "--stdin-paths"] in made, processes
    assert len(made) == 2, processes


def test_before_the_first_commit_the_context_is_still_recorded(tmp_path: Path) -> None:
    from tests.support.daemon import enable

    root = tmp_path / "unborn"
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text("lr = 1\n")
    enable(root)
    tags = autocommit.mlflow_tags(root)
    assert_context(root, tags)


def _context_request(
    daemon: Worktree, files: dict[str, bytes], *, delay: float = 0.0
) -> dict[str, Any]:
    """A run's sync request whose context files follow it, after ``delay`` seconds."""
    texts = {name: content.decode() for name, content in files.items()}

    def then(first: control.FirstAnswer) -> dict[str, Any]:
        time.sleep(delay)
        return {"context": texts}

    message = {"op": "sync", "run": True, "context": control.CONTEXT_FOLLOWS}
    return control.request(daemon, message, 30, then=then)


@pytest.mark.parametrize(
    ("delay", "late"),
    [(0.0, False), (0.1, False), (1.0, True)],
    ids=["in-time", "waited-for", "after-the-snapshot"],
)
def test_a_context_sent_after_its_request_is_committed_and_pinned(
    daemon: Worktree, delay: float, late: bool
) -> None:
    """The run gathers its context while the daemon snapshots. The run commit waits a
    little for files on their way (then both are written and pinned together); files that
    come later still are committed and pinned before the answer all the same."""
    root = daemon.root
    files = {contract.CONTEXT_ENVIRONMENT: b"Python 3\n", contract.CONTEXT_DATA: b"[]\n"}
    (root / "train.py").write_text(f"lr = {delay}\n")
    before = user_state(root)
    answer = _context_request(daemon, files, delay=delay)
    assert answer["ok"], answer
    run = answer["run"]
    assert run["context"] == by_git(root, run["commit"], files)
    assert {run["context"], run["commit"]} <= pinned(root)
    steps = list(answer["phases"])
    assert service.CONTEXT_WAIT < 1.0
    assert (steps.index("context received") > steps.index("snapshot")) == late, steps
    assert user_state(root) == before
    git(root, "fsck", "--strict", "--no-progress")


def test_a_malformed_context_after_its_request_is_refused(daemon: Worktree) -> None:
    root = daemon.root
    (root / "train.py").write_text("lr = 0.9\n")
    answer = _context_request(daemon, {"../escape": b"x"})
    assert answer["ok"] is False and "bad context" in answer["error"], answer
    assert_context(root, autocommit.mlflow_tags(root))  # the next run is served as ever
