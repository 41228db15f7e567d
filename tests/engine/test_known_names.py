"""An incremental snapshot matches only new names against the exclusion patterns: a file
the last snapshot held is tracked or passed them. Names that were something else before
(a directory, a file left out) are matched again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from autocommit.settings.config import DEFAULT_SECRET_PATTERNS, Settings
from tests.support.git import git, tree_listing
from tests.support.oracle import assert_exact

SECRET = "secret-looking name"
PATTERNS = (*DEFAULT_SECRET_PATTERNS, "*.log")


def _snap(root: Path, paths: list[str] | None = None) -> tuple[str, dict[str, str]]:
    snap = take_snapshot(find_worktree(root), paths, Settings(secret_patterns=PATTERNS))
    assert_exact(root, snap.tree, secret_patterns=PATTERNS)
    return snap.tree, {s.path: s.reason for s in snap.skipped}


def test_a_secret_name_that_was_a_directory_is_left_out(repo: Path) -> None:
    (repo / "deploy.pem").mkdir()
    (repo / "deploy.pem" / "notes.md").write_text("tracked\n")
    git(repo, "add", "deploy.pem/notes.md")
    git(repo, "commit", "-q", "-m", "notes")
    _snap(repo)
    shutil.rmtree(repo / "deploy.pem")
    (repo / "deploy.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    os.chmod(repo / "deploy.pem", 0o644)  # only its name says what it is
    tree, skipped = _snap(repo, ["deploy.pem"])
    assert skipped == {"deploy.pem": SECRET}
    assert not any(p.startswith("deploy.pem") for p in tree_listing(repo, tree))


def test_tracked_files_with_excluded_names_stay_when_they_change(repo: Path) -> None:
    (repo / "run.log").write_text("tracked on purpose\n")
    (repo / "id_rsa.pub.key").write_text("tracked too\n")
    git(repo, "add", "run.log", "id_rsa.pub.key")
    git(repo, "commit", "-q", "-m", "logs")
    _snap(repo)
    (repo / "run.log").write_text("changed\n")
    (repo / "id_rsa.pub.key").write_text("changed too\n")
    tree, skipped = _snap(repo, ["run.log", "id_rsa.pub.key"])
    assert skipped == {}
    assert {"run.log", "id_rsa.pub.key"} <= set(tree_listing(repo, tree))


def test_a_file_left_out_is_matched_again_when_it_changes(repo: Path) -> None:
    (repo / "debug.log").write_text("untracked\n")
    assert _snap(repo)[1] == {"debug.log": SECRET}
    (repo / "debug.log").write_text("still untracked\n")
    tree, skipped = _snap(repo, ["debug.log"])
    assert skipped == {"debug.log": SECRET}
    assert "debug.log" not in tree_listing(repo, tree)
