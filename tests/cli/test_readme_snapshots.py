"""The README's Snapshots section, run as written: the shadow ref's diff is exactly the
uncommitted work, the commands work right after ``init``, and ``snapshot --json --pin``
prints a commit that outlives ``prune``."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from autocommit.gitio.repo import find_worktree
from tests.support.cli import run_cli
from tests.support.daemon import rev, stop_for_sure
from tests.support.git import exists, git
from tests.support.oracle import expected_tree
from tests.support.readme import example, says

SHADOW = "autocommit/heads/main"


def sh(root: Path, command: str) -> subprocess.CompletedProcess[str]:
    """One command of a README example, run as the user would (``autocommit`` is this
    checkout's); it must succeed."""
    program, *args = shlex.split(command)
    if program == "autocommit":
        done = run_cli(root, *args)
    else:
        assert program == "git", command
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done


def readme_command(name: str, command: str) -> str:
    """``command``, after checking that the README's example ``name`` has it as it is."""
    assert command in example(name), (command, example(name))
    return command


def uncommitted_work(root: Path) -> str:
    """``git diff`` from HEAD to the working tree as a snapshot holds it (untracked files
    included), from the tests' own oracle."""
    return git(root, "diff", "HEAD", expected_tree(root))


def test_the_shadow_diff_is_exactly_the_uncommitted_work_even_after_undoing_it(
    repo: Path,
) -> None:
    says("git diff HEAD autocommit/heads/main  # exactly your uncommitted work")
    says("The shadow branch's tip always holds the tree of the latest snapshot, clean or not")
    snapshot = readme_command("snapshots", "autocommit snapshot")
    diff = readme_command("snapshots", f"git diff HEAD {SHADOW}")
    with open(repo / "train.py", "a") as handle:
        handle.write("wip\n")
    (repo / "notes.md").write_text("untracked, not ignored\n")
    sh(repo, snapshot)
    assert sh(repo, diff).stdout == uncommitted_work(repo) != ""

    git(repo, "checkout", "--", "train.py")
    (repo / "notes.md").unlink()
    done = sh(repo, snapshot)
    assert done.stdout.strip() == rev(repo, "HEAD")
    assert "clean: the snapshot is HEAD" in done.stderr
    assert sh(repo, diff).stdout == uncommitted_work(repo) == ""


def test_right_after_init_the_readme_commands_work(repo: Path) -> None:
    says("`autocommit init` takes the first snapshot, so these commands work right after it")
    done = run_cli(repo, "init")  # a clean tree, the daemon started as by default
    assert done.returncode == 0, done.stderr
    try:
        status = sh(repo, "autocommit status").stdout
        assert f"on refs/{SHADOW}" in status, status
        head = rev(repo, "HEAD")
        assert head is not None
        assert head in sh(repo, readme_command("snapshots", f"git log {SHADOW}")).stdout
        assert sh(repo, readme_command("snapshots", f"git diff HEAD {SHADOW}")).stdout == ""
        listed = sh(repo, readme_command("snapshots", "autocommit log")).stdout
        assert "clean: no file changes" in listed, listed
    finally:
        stop_for_sure(find_worktree(repo))


SNAPSHOT_FIELDS = ("commit", "pinned", "snapshot", "tree", "head", "head_ref", "shadow_ref",
                   "dirty", "created", "reconciled", "skipped", "summary")  # fmt: skip


def test_snapshot_json_pin_prints_the_pinned_commit_which_outlives_prune(
    repo: Path, tmp_path: Path
) -> None:
    """``commit`` is what was pinned; ``snapshot`` (the chain's) may go with a prune."""
    for field in SNAPSHOT_FIELDS:
        says(f"| `{field}` |")
    pin_command = readme_command("snapshots", "autocommit snapshot --json --pin")
    git(repo, "config", "gc.pruneExpire", "now")  # a prune removes what it drops at once
    (repo / "train.py").write_text("lr = 0.2\n")
    sh(repo, "autocommit snapshot")
    (repo / "train.py").write_text("lr = 0.3\n")
    record = json.loads(sh(repo, pin_command).stdout)
    assert tuple(record) == SNAPSHOT_FIELDS
    head = rev(repo, "HEAD")
    code = record["commit"]
    assert record["pinned"] == code != record["snapshot"] == rev(repo, SHADOW)
    assert rev(repo, f"refs/autocommit/pins/{code}") == code
    assert git(repo, "rev-parse", f"{code}^@").split() == [head]  # a run commit: off the chain
    assert rev(repo, f"{code}^{{tree}}") == record["tree"] == expected_tree(repo)
    assert record["head"] == head and record["head_ref"] == "refs/heads/main"
    assert record["shadow_ref"] == f"refs/{SHADOW}" and record["dirty"] and record["created"]
    assert record["reconciled"] and record["skipped"] == []
    assert record["summary"] == "1 file: modify train.py"
    unpinned = json.loads(sh(repo, "autocommit snapshot --json").stdout)
    assert unpinned["commit"] == unpinned["snapshot"] and unpinned["pinned"] is None

    for lr in ("0.4", "0.5"):
        (repo / "train.py").write_text(f"lr = {lr}\n")
        sh(repo, "autocommit snapshot")
    sh(repo, "autocommit prune --older-than 0")
    assert not exists(repo, record["snapshot"])  # the chain's snapshot is gone…
    sh(repo, f"autocommit checkout {code} {tmp_path / 'again'}")  # …the printed commit is not
    assert (tmp_path / "again" / "train.py").read_text() == "lr = 0.3\n"


def test_a_snapshot_pin_sits_off_the_shadow_branch_and_keeps_none_of_it(repo: Path) -> None:
    says("`autocommit snapshot --pin` pins a run commit, as a run does: off the chain")
    (repo / "train.py").write_text("lr = 0.6\n")
    sh(repo, "autocommit snapshot")
    (repo / "train.py").write_text("lr = 0.7\n")
    pinned = sh(repo, "autocommit snapshot --pin").stdout.strip()
    assert pinned not in git(repo, "rev-list", SHADOW).split()
    (repo / "train.py").write_text("lr = 0.8\n")
    sh(repo, "autocommit snapshot")
    report = json.loads(sh(repo, "autocommit prune --older-than 0 --json").stdout)
    (chain,) = report["chains"]
    assert (chain["pins_on_chain"], chain["kept_for_pins"]) == (0, 0)
    assert chain["dropped"] == chain["snapshots"] - 1  # all but the tip: the pin needs none
    assert rev(repo, f"refs/autocommit/pins/{pinned}") == pinned


@pytest.mark.parametrize("where", ["clean", "dirty"])
def test_the_printed_commit_is_the_json_commit(repo: Path, where: str) -> None:
    if where == "dirty":
        (repo / "train.py").write_text("lr = 0.9\n")
    for args in ([], ["--pin"]):
        printed = sh(repo, shlex.join(["autocommit", "snapshot", *args])).stdout.strip()
        as_json = shlex.join(["autocommit", "snapshot", "--json", *args])
        record = json.loads(sh(repo, as_json).stdout)
        assert record["commit"] == printed
        assert (printed == rev(repo, "HEAD")) == (where == "clean")
        if args:
            assert record["pinned"] == printed == rev(repo, f"refs/autocommit/pins/{printed}")
