"""Where names came and went, as the daemon tells a run: every name event of the working
tree before the request is in the answer (the sync barrier), none of the daemon's own
(``.git``), and whatever the daemon cannot vouch for is said to be unknown."""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest

from autocommit import contract
from autocommit.daemon import client, control
from autocommit.daemon.name_log import MOST, NameLog
from autocommit.gitio.repo import Worktree
from tests.support.git import user_state
from tests.support.oracle import expected_tree


def _names(daemon: Worktree, since: dict[str, Any] | None) -> dict[str, Any]:
    """What the daemon tells a run of names come and gone (it can tell)."""
    names = _told(daemon, since)
    assert isinstance(names, dict)
    return names


def _told(daemon: Worktree, since: dict[str, Any] | None) -> dict[str, Any] | None:
    """The daemon's first answer to a run's sync request, which then sends no context."""
    told: list[dict[str, Any] | None] = []

    def then(first: control.FirstAnswer) -> dict[str, Any]:
        told.append(first())
        return {"context": None}

    message = {"op": "sync", "run": True, "context": control.CONTEXT_AFTER_NAMES,
               "names_since": since}  # fmt: skip
    answer = control.request(daemon, message, 30, then=then, first=True)
    assert answer["ok"], answer
    assert told and told[0] is not None and "names" in told[0]
    names: dict[str, Any] | None = told[0]["names"]
    return names


def test_a_run_that_needs_no_names_still_gets_its_last_answer(daemon: Worktree) -> None:
    """The first answer is read only when the run asks for it (it gathers the rest of its
    context meanwhile); one it never asks for is read before the last all the same."""

    def then(first: control.FirstAnswer) -> dict[str, Any]:
        return {"context": None}  # no data.json: the names are never asked for

    message = {"op": "sync", "run": True, "context": control.CONTEXT_AFTER_NAMES,
               "names_since": None}  # fmt: skip
    answer = control.request(daemon, message, 30, then=then, first=True)
    assert answer["ok"], answer
    assert "names" not in answer and answer["run"]["commit"]


def test_a_run_is_told_every_name_that_came_or_went_before_its_request(daemon: Worktree) -> None:
    root = daemon.root
    first = _names(daemon, None)
    assert first["changed"] is None  # nothing asked before: unknown
    since = {"daemon": first["daemon"], "number": first["number"]}
    before = user_state(root).git_state
    (root / "new" / "deeper").mkdir(parents=True)
    (root / "new" / "deeper" / "f.txt").write_text("f\n")
    (root / "README.md").write_text("edited in place: no name came or went\n")
    (root / "old.txt").write_text("o\n")
    (root / "old.txt").rename(root / "renamed.txt")
    told = _names(daemon, since)  # asked at once: the cookie makes sure all are in
    assert told["changed"] == [
        ["new", True], ["new/deeper", True], ["new/deeper/f.txt", False],
        ["old.txt", False], ["renamed.txt", False],
    ]  # fmt: skip
    # the snapshots since wrote objects and refs in .git: nothing of them is told
    again = _names(daemon, {"daemon": told["daemon"], "number": told["number"]})
    assert again["changed"] == [] and again["number"] == told["number"]
    assert _names(daemon, {"daemon": "another daemon", "number": 1})["changed"] is None
    assert user_state(root).git_state == before


def test_what_the_log_cannot_vouch_for_is_unknown() -> None:
    log = NameLog("this", kept=3)
    log.add("a/b", True)
    start = log.since(None)
    assert start == {"daemon": "this", "number": 1, "changed": None}
    assert log.since({"daemon": "this", "number": 0})["changed"] == [["a/b", True]]
    for n in range(3):
        log.add(f"f{n}", False)
    # the first event was dropped: whoever last heard of number 0 walks again
    assert log.since({"daemon": "this", "number": 0})["changed"] is None
    assert log.since({"daemon": "this", "number": 1})["changed"] == [
        ["f0", False], ["f1", False], ["f2", False]]  # fmt: skip
    assert log.since({"daemon": "this", "number": 2})["changed"] == [["f1", False], ["f2", False]]
    log.lose()
    assert log.since({"daemon": "this", "number": 4})["changed"] is None
    assert log.since({"daemon": "this", "number": 5})["changed"] == []
    assert log.since({"daemon": "this", "number": 99})["changed"] is None  # from the future
    assert log.since({"daemon": "this", "number": True})["changed"] is None  # not a number
    many = NameLog("many")
    for n in range(MOST + 1):
        many.add(f"f{n}", False)
    assert many.since({"daemon": "many", "number": 0})["changed"] is None
    assert len(many.since({"daemon": "many", "number": 1})["changed"]) == MOST


def test_without_a_cookie_the_run_is_told_at_once_that_nothing_is_known(
    daemon: Worktree,
) -> None:
    """The cookie cannot be made (its directory replaced by a file): nothing vouches
    that every earlier change is in, so the run is told "unknown" at once (it walks),
    without waiting for a cookie that will never come; the sync is still exact."""
    from autocommit.daemon.control import DaemonFiles
    from autocommit.daemon.service import COOKIE_GRACE
    from tests.support.oracle import expected_tree

    root = daemon.root
    first = _names(daemon, None)
    since = {"daemon": first["daemon"], "number": first["number"]}
    cookies = DaemonFiles.of(daemon).cookies
    shutil.rmtree(cookies)
    cookies.write_text("not a directory\n")
    (root / "new.txt").write_text("n\n")
    try:
        started = time.monotonic()
        assert _told(daemon, since) is None
        assert time.monotonic() - started < COOKIE_GRACE
        snap = client.sync(daemon, timeout=30)
        assert snap is not None and snap.tree == expected_tree(root)
    finally:
        cookies.unlink()


def test_a_daemon_that_does_not_know_the_request_gets_the_older_form(
    daemon: Worktree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon left running across an upgrade refuses a "context" value it does not
    know: the run asks again in the form before it (its context gathered, told nothing)
    instead of snapshotting in its own process."""
    monkeypatch.setattr(client, "CONTEXT_AFTER_NAMES", "follows a form from a later version")
    root = daemon.root
    (root / "train.py").write_text("lr = 0.7\n")
    told: list[client.Names] = []

    def gather(names: client.NamesLater) -> dict[str, bytes]:
        told.append(names())
        return {contract.CONTEXT_ENVIRONMENT: b"Python 3\n"}

    synced = client.sync_for_run(daemon, context=gather, names_since=None)
    assert synced is not None, "the older form was not asked for"
    snap, run = synced
    assert run is not None and run.context is not None
    assert told == [None, None]  # refused at once: nothing was known either time
    assert snap.tree == expected_tree(root)
