"""With the daemon running, a run's ``data.json`` walk is kept while the daemon saw no
name come or go where it could change what the walk finds: real daemon, real runs
through the plugin's code, each ``data.json`` checked against the files on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import autocommit
from autocommit import contract
from autocommit.gitio.repo import Worktree
from tests.support.git import calls_to, git, user_state
from tests.support.readme import says
from tests.tracking.test_context import data_entries, write_data


def _data_files(root: Path) -> list[str]:
    """The files the ``data.json`` of a run starting now lists."""
    tags = autocommit.mlflow_tags(root)
    assert contract.CONTEXT_TAG in tags, tags
    return sorted(data_entries(root, tags[contract.CONTEXT_TAG]))


def _save_atomically(path: Path, text: str) -> None:
    """As many editors save: a new file renamed over the old one (two names come and go)."""
    temporary = path.with_name(path.name + ".swp")
    temporary.write_text(text)
    os.replace(temporary, path)


def test_the_daemon_tells_a_run_when_its_data_walk_must_be_done_again(
    daemon: Worktree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit saved by renaming, and new directories where the walk never goes
    (``mlruns/``), keep the walk; a ``data/`` directory made deep in the tree, a file
    added to one, a directory turned into a virtualenv each make the run walk again, and
    ``data.json`` lists exactly the files on disk."""
    from autocommit.tracking import data_files

    says("the daemon, which watches every directory, tells the run where names came and "
         "went since its last run")  # fmt: skip
    monkeypatch.setattr(data_files, "_SETTLED_NS", 0)  # the files were written just now
    root = daemon.root
    write_data(root, {"data/a.csv": b"1\n", "src/m.py": b"x = 1\n", "src/pkg/n.py": b""})
    git(root, "add", "src")
    git(root, "commit", "-q", "-m", "code")
    walks = calls_to(monkeypatch, data_files, "_walk")
    assert _data_files(root) == ["data/a.csv"]
    assert len(walks) == 1
    before = user_state(root).git_state

    steps: list[tuple[str, object, list[str], bool]] = [
        ("an edit saved by renaming", lambda: _save_atomically(root / "src/m.py", "x = 2\n"),
         ["data/a.csv"], False),
        ("MLflow's directories", lambda: write_data(root, {"mlruns/0/r1/meta.yaml": b"a"}),
         ["data/a.csv"], False),
        ("a data directory deep down",
         lambda: write_data(root, {"src/pkg/deep/data/b.csv": b"2\n"}),
         ["data/a.csv", "src/pkg/deep/data/b.csv"], True),
        ("a file added to a data directory", lambda: write_data(root, {"data/c.csv": b"3"}),
         ["data/a.csv", "data/c.csv", "src/pkg/deep/data/b.csv"], True),
        ("a directory turned into a virtualenv",
         lambda: write_data(root, {"src/pkg/pyvenv.cfg": b"home = /usr\n"}),
         ["data/a.csv", "data/c.csv"], True),
        ("nothing", lambda: None, ["data/a.csv", "data/c.csv"], False),
    ]  # fmt: skip
    for what, change, expected, walked in steps:
        count = len(walks)
        change()  # type: ignore[operator]
        assert _data_files(root) == expected, what
        assert (len(walks) > count) is walked, what
    assert user_state(root).git_state == before


def test_a_restarted_daemon_s_numbers_are_not_taken_for_its_predecessor_s(
    daemon: Worktree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another daemon's numbers (one restarted: it saw nothing of what came before) mean
    nothing: the run walks again, then trusts the new daemon's word."""
    from autocommit.daemon import client
    from autocommit.tracking import data_files

    monkeypatch.setattr(data_files, "_SETTLED_NS", 0)
    root = daemon.root
    write_data(root, {"data/a.csv": b"1\n"})
    walks = calls_to(monkeypatch, data_files, "_walk")
    assert _data_files(root) == ["data/a.csv"]
    assert _data_files(root) == ["data/a.csv"]
    assert len(walks) == 1
    client.stop(daemon)
    client.start(daemon)
    assert _data_files(root) == ["data/a.csv"]
    assert len(walks) == 2
    assert _data_files(root) == ["data/a.csv"]
    assert len(walks) == 2
    write_data(root, {"data/b.csv": b"2\n"})
    assert _data_files(root) == ["data/a.csv", "data/b.csv"]
    assert len(walks) == 3
