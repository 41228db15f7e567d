"""Snapshot commits are written without ``git commit-tree``: they must read as git's own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.git import git

ODD_IDENTITIES = [
    ("  Jane Doe  ", "jane@example.com"),
    ("Jane <The Great> Doe", "<jane@example.com>"),
    ("'Jane', \"Doe\";", " jane@example.com: "),
    ("Jöhn Ünïcode\\", "jöhn@exämple.com"),
    (".Jane. Doe.", "jane.@example.com."),
]


@pytest.fixture
def odd_time_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/St_Johns")  # a half-hour offset west of UTC
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _header(repo: Path, commit: str, field: str) -> str:
    header = git(repo, "cat-file", "commit", commit).split("\n\n", 1)[0]
    return next(line for line in header.splitlines() if line.startswith(field + " "))


@pytest.mark.parametrize(("name", "email"), ODD_IDENTITIES)
def test_the_author_is_written_as_git_writes_it(
    repo: Path, name: str, email: str, odd_time_zone: None
) -> None:
    git(repo, "config", "user.name", name)
    git(repo, "config", "user.email", email)
    (repo / "train.py").write_text(f"who = {name!r}\n")
    snap = take_snapshot(find_worktree(repo))
    ours = _header(repo, snap.commit, "author").removeprefix("author ")
    by_git = git(repo, "var", "GIT_AUTHOR_IDENT", env={"TZ": "America/St_Johns"}).strip()
    # Same name, email and time zone; the seconds may differ by the time between the two.
    assert ours.rsplit(" ", 2)[0] == by_git.rsplit(" ", 2)[0]
    assert ours.rsplit(" ", 1)[1] == by_git.rsplit(" ", 1)[1] in ("-0330", "-0230")
    assert abs(int(ours.rsplit(" ", 2)[1]) - int(by_git.rsplit(" ", 2)[1])) <= 5
    git(repo, "fsck", "--strict", "--no-dangling")


def test_an_identity_git_would_refuse_falls_back_to_autocommit(repo: Path) -> None:
    git(repo, "config", "user.name", ",;:")  # nothing but characters git strips
    (repo / "train.py").write_text("lr = 0.9\n")
    snap = take_snapshot(find_worktree(repo))
    author = _header(repo, snap.commit, "author")
    assert author.startswith("author autocommit <autocommit@localhost> ")
    committer = _header(repo, snap.commit, "committer")
    assert committer.startswith("committer autocommit <autocommit@localhost> ")
    git(repo, "fsck", "--strict", "--no-dangling")
