"""Awkward repositories: each works exactly (or fails with a one-line error), through
both the full scan and incremental snapshots, without touching the user's state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autocommit.engine.snapshot import Snapshot, take_snapshot
from autocommit.gitio.repo import find_worktree
from autocommit.settings.config import Settings
from tests.support.cli import run_cli
from tests.support.engine import drop_root_powers
from tests.support.git import git, tree_listing, user_state
from tests.support.oracle import assert_exact


def snap(root: Path, paths: list[str] | None = None, **settings: object) -> Snapshot:
    return take_snapshot(find_worktree(root), paths, Settings(**settings))  # type: ignore[arg-type]


def parents(root: Path, commit: str) -> list[str]:
    return git(root, "rev-list", "--parents", "-n", "1", commit).split()[1:]


def init(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    return root


def commit_all(root: Path, message: str = "commit") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def test_no_commits_yet(tmp_path: Path) -> None:
    root = init(tmp_path / "repo")
    empty = snap(root)
    assert empty.head is None and empty.tree == git(root, "mktree", input=b"").strip()
    (root / "a.py").write_text("a = 1\n")
    (root / "pkg").mkdir()
    (root / "pkg" / "b.py").write_text("b = 2\n")
    before = user_state(root)
    first = snap(root)
    assert first.head is None and first.dirty and first.created
    assert first.shadow_ref == "refs/autocommit/heads/main"
    assert_exact(root, first.tree)
    assert "Autocommit-Head: unborn" in git(root, "log", "-1", "--format=%B", first.commit)
    (root / "a.py").write_text("a = 3\n")
    second = snap(root, ["a.py"])
    assert not second.reconciled and parents(root, second.commit) == [first.commit]
    assert_exact(root, second.tree)
    after = user_state(root)
    assert after.git_state == before.git_state
    head = commit_all(root)
    clean = snap(root)
    assert clean.commit == head and not clean.dirty and clean.created
    clean_tip = git(root, "rev-parse", clean.shadow_ref).strip()  # HEAD's tree, on the chain
    assert parents(root, clean_tip) == [second.commit, head]
    (root / "a.py").write_text("a = 4\n")
    after_commit = snap(root, ["a.py"])
    assert parents(root, after_commit.commit) == [clean_tip]
    git(root, "merge-base", "--is-ancestor", head, after_commit.commit)


def test_detached_head_has_its_own_chain(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    (repo / "train.py").write_text("lr = 0.5\n")
    before = user_state(repo)
    detached = snap(repo)
    assert detached.head_ref is None
    assert detached.shadow_ref == "refs/autocommit/detached/HEAD"
    assert git(repo, "rev-parse", "refs/autocommit/detached/HEAD").strip() == detached.commit
    assert git(repo, "for-each-ref", "refs/autocommit/heads/") == ""
    assert_exact(repo, detached.tree)
    assert user_state(repo) == before
    listed = run_cli(repo, "log", "--json")
    assert listed.returncode == 0 and detached.commit in listed.stdout


def test_linked_worktrees_have_their_own_index_and_refs(repo: Path) -> None:
    other = repo.parent / "other"
    git(repo, "worktree", "add", "-q", "-b", "topic", str(other))
    loose = repo.parent / "loose"
    git(repo, "worktree", "add", "-q", "--detach", str(loose))
    (repo / "train.py").write_text("lr = 1\n")
    (other / "train.py").write_text("lr = 2\n")
    (other / "notes.md").write_text("only in the linked worktree\n")
    (loose / "train.py").write_text("lr = 3\n")
    states = {p: user_state(p) for p in (repo, other, loose)}
    main_snap, other_snap, loose_snap = snap(repo), snap(other), snap(loose)
    assert main_snap.shadow_ref == "refs/autocommit/heads/main"
    assert other_snap.shadow_ref == "refs/autocommit/heads/topic"
    assert loose_snap.shadow_ref == "refs/autocommit/detached/worktrees/loose"
    for root, taken in ((repo, main_snap), (other, other_snap), (loose, loose_snap)):
        assert_exact(root, taken.tree)
        assert user_state(root) == states[root]
    assert "notes.md" not in tree_listing(repo, main_snap.commit)
    assert (repo / ".git" / "autocommit" / "index").exists()
    assert (repo / ".git" / "worktrees" / "other" / "autocommit" / "index").exists()
    (other / "notes.md").write_text("edited\n")
    incremental = snap(other, ["notes.md"])
    assert not incremental.reconciled
    assert_exact(other, incremental.tree)
    assert snap(repo, ["train.py"]).commit == main_snap.commit  # untouched by the other


def test_submodules_are_gitlinks_at_their_head(repo: Path, tmp_path: Path) -> None:
    library = init(tmp_path / "library")
    (library / "lib.py").write_text("x = 1\n")
    commit_all(library)
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    commit_all(repo, "add lib")
    (repo / "lib" / "lib.py").write_text("x = 2\n")  # uncommitted inside: not recorded
    (repo / "train.py").write_text("lr = 0.2\n")
    before = user_state(repo)
    first = snap(repo)
    assert_exact(repo, first.tree)
    moved = commit_all(repo / "lib", "library change")
    for paths in (["lib/lib.py"], ["lib"], None):
        taken = snap(repo, paths)
        assert taken.reconciled == (paths is None)
        assert tree_listing(repo, taken.tree)["lib"] == ("160000", moved)
        assert_exact(repo, taken.tree)
        (repo / "lib" / "lib.py").write_text(f"x = {paths}\n")
        moved = commit_all(repo / "lib", "the submodule moves again")
    after = user_state(repo)
    assert after.git_state == before.git_state
    assert git(repo, "ls-files", "-s", "lib").split()[1] != moved  # the user's index: as was
    # A submodule that is not checked out (an empty directory) keeps its recorded commit.
    recorded = tree_listing(repo, "HEAD")["lib"]
    git(repo, "submodule", "deinit", "-q", "-f", "lib")
    for paths in (["lib"], None):
        taken = snap(repo, paths)
        assert tree_listing(repo, taken.tree)["lib"] == recorded


def test_nested_repositories_are_left_out_and_reported(repo: Path) -> None:
    nested = repo / "vendor" / "tool"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    (nested / "tool.py").write_text("tool = 1\n")
    (repo / "vendor" / "readme.txt").write_text("vendored\n")
    taken = snap(repo)
    assert dict((s.path, s.reason) for s in taken.skipped) == {
        "vendor/tool": "nested git repository"
    }
    assert "Autocommit-Skipped: vendor/tool (nested git repository)" in git(
        repo, "log", "-1", "--format=%B", taken.commit
    )
    assert_exact(repo, taken.tree)
    (nested / "tool.py").write_text("tool = 2\n")
    again = snap(repo, ["vendor/tool/tool.py"])
    assert [s.path for s in again.skipped] == ["vendor/tool"]
    assert_exact(repo, again.tree)
    # A directory that becomes a repository: its files leave the snapshot.
    (repo / "tools").mkdir()
    (repo / "tools" / "t.py").write_text("t = 1\n")
    assert "tools/t.py" in tree_listing(repo, snap(repo, ["tools/t.py"]).tree)
    git(repo / "tools", "init", "-q")
    became = snap(repo, ["tools/.git/HEAD", "tools/.git/config"])
    assert "tools/t.py" not in tree_listing(repo, became.tree)
    assert {s.path for s in became.skipped} == {"vendor/tool", "tools"}
    assert_exact(repo, became.tree)
    shown = run_cli(repo, "snapshot")
    assert "left out tools (nested git repository)" in shown.stderr


def test_merge_conflict_snapshot_is_the_exact_tree(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "topic")
    (repo / "train.py").write_text("lr = 0.3\n")
    commit_all(repo, "topic lr")
    git(repo, "checkout", "-q", "main")
    (repo / "train.py").write_text("lr = 0.4\n")
    commit_all(repo, "main lr")
    merge = subprocess.run(["git", "merge", "-q", "topic"], cwd=repo, capture_output=True)
    assert merge.returncode != 0 and "<<<<<<<" in (repo / "train.py").read_text()
    (repo / "extra.py").write_text("during the merge\n")
    before = user_state(repo)
    taken = snap(repo)
    assert user_state(repo) == before  # conflict stages, HEAD, refs, files: as they were
    assert taken.dirty and "<<<<<<<" in git(repo, "show", f"{taken.commit}:train.py")
    assert_exact(repo, taken.tree)
    (repo / "train.py").write_text("lr = 0.35\n")  # resolving, not yet `git add`ed
    resolved = snap(repo, ["train.py"])
    assert_exact(repo, resolved.tree)
    assert user_state(repo).index_stage == before.index_stage  # still conflicted for git
    assert "train.py" in git(repo, "diff", "--name-only", "--diff-filter=U")


AWKWARD_NAMES = [
    "with space.py",
    "ünïcödé.py",
    "new\nline.py",
    "-leading-dash.py",
    'quote".py',
    "back\\slash.py",
    "tab\there.py",
    "trailing space .py",
    "日本語/ファイル.py",
    '"starts-with-quote.py',
    "--.py",
]


def test_awkward_file_names(repo: Path) -> None:
    names = [*AWKWARD_NAMES, os.fsdecode(b"latin1-\xe9.py")]
    for name in names:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"# {name!r}\n")
    (repo / "we ird.pem").write_text("secret\n")
    before = user_state(repo)
    full = snap(repo)
    assert_exact(repo, full.tree)
    assert set(names) <= set(tree_listing(repo, full.tree))
    assert [s.path for s in full.skipped] == ["we ird.pem"]
    for name in names:
        (repo / name).write_text(f"# changed {name!r}\n")
    (repo / "-x").write_text("new\n")
    incremental = snap(repo, [*names, "-x"])
    assert not incremental.reconciled
    assert_exact(repo, incremental.tree)
    assert user_state(repo).index_bytes == before.index_bytes
    listed = run_cli(repo, "log", "--json")
    assert listed.returncode == 0, listed.stderr


def test_unreadable_files_are_left_out_and_reported(repo: Path) -> None:
    prefix = drop_root_powers()
    if prefix is None:
        pytest.skip("cannot make a file unreadable for this user (root without setpriv)")
    (repo / "train.py").write_text("lr = 0.9\n")
    (repo / "train.py").chmod(0)
    (repo / "private.txt").write_text("unreadable\n")
    (repo / "private.txt").chmod(0)
    (repo / "ok.py").write_text("ok\n")
    before = user_state(repo)
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "autocommit", "snapshot", "--json"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    import json

    taken = json.loads(done.stdout)
    reasons = {s["path"]: s["reason"] for s in taken["skipped"]}
    assert set(reasons) == {"train.py", "private.txt"}
    assert all(r.startswith("unreadable") for r in reasons.values())
    listing = tree_listing(repo, taken["tree"])
    assert "private.txt" not in listing and "ok.py" in listing
    assert listing["train.py"] == tree_listing(repo, "HEAD")["train.py"]  # the staged one
    assert user_state(repo) == before
    (repo / "train.py").chmod(0o644)
    (repo / "private.txt").chmod(0o644)
    assert_exact(repo, snap(repo, ["train.py", "private.txt"]).tree)


def test_file_deleted_while_being_hashed(repo: Path) -> None:
    """A clean filter that deletes the file it is reading: the snapshot holds the
    content read, and the next snapshot (told of the deletion) holds no file."""
    (repo / ".gitattributes").write_text("*.dat filter=vanish\n")
    git(repo, "config", "filter.vanish.clean", "sh -c 'cat; rm -f \"$1\"' -- %f")
    commit_all(repo, "attributes")
    snap(repo)
    for paths in (["data.dat"], None):
        (repo / "data.dat").write_text("short-lived\n")
        taken = snap(repo, paths)
        assert not (repo / "data.dat").exists()
        assert git(repo, "show", f"{taken.commit}:data.dat") == "short-lived\n"
        git(repo, "fsck", "--no-progress")
        assert_exact(repo, snap(repo, ["data.dat"]).tree)


def test_file_deleted_between_listing_and_hashing(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocommit.engine.exclusions import ExclusionRules

    (repo / "gone.py").write_text("here for a moment\n")
    snap(repo)
    original = ExclusionRules.reason_to_skip

    def delete_after_looking(self: ExclusionRules, root: Path, path: str) -> str | None:
        reason = original(self, root, path)
        if path in ("gone.py", "train.py") and (root / path).exists():
            (root / path).unlink()
        return reason

    monkeypatch.setattr(ExclusionRules, "reason_to_skip", delete_after_looking)
    (repo / "gone.py").write_text("changed, then deleted\n")
    (repo / "train.py").write_text("lr = 2\n")
    taken = snap(repo, ["gone.py", "train.py"])
    assert_exact(repo, taken.tree)
    assert "gone.py" not in tree_listing(repo, taken.tree)


def test_huge_untracked_files_are_left_out_and_reported(repo: Path) -> None:
    with open(repo / "weights.bin", "wb") as handle:
        handle.truncate(6 * 1024**2)  # sparse: instant, but 6 MiB for git
    (repo / "small.bin").write_bytes(b"x" * 2048)
    (repo / "tracked.bin").write_bytes(b"y" * 4096)
    git(repo, "add", "tracked.bin")
    done = run_cli(repo, "snapshot")
    assert done.returncode == 0, done.stderr
    assert "left out weights.bin (6.0 MiB, over max_file_size 5.0 MiB)" in done.stderr
    listing = tree_listing(repo, done.stdout.strip())
    assert "weights.bin" not in listing and "small.bin" in listing
    capped = run_cli(repo, "snapshot", env={"AUTOCOMMIT_MAX_FILE_SIZE": "1k"})
    assert "left out small.bin (2.0 KiB, over max_file_size 1.0 KiB)" in capped.stderr
    listing = tree_listing(repo, capped.stdout.strip())
    assert "small.bin" not in listing and "tracked.bin" in listing  # tracked: always in
    message = git(repo, "log", "-1", "--format=%B", capped.stdout.strip())
    assert "Autocommit-Skipped: small.bin (2.0 KiB, over max_file_size 1.0 KiB)" in message
    (repo / "small.bin").write_bytes(b"x" * 10)
    shrunk = snap(repo, ["small.bin"], max_file_size=1024)
    assert not shrunk.reconciled and "small.bin" in tree_listing(repo, shrunk.tree)
    assert [s.path for s in shrunk.skipped] == ["weights.bin"]


def test_secret_files_left_out_unless_tracked(repo: Path) -> None:
    (repo / ".env").write_text("TOKEN=1\n")
    (repo / "keys").mkdir()
    (repo / "keys" / "id_rsa").write_text("private key\n")
    (repo / "gcp-service-account-1.json").write_text("{}\n")
    (repo / "server.pem").write_text("tracked on purpose\n")
    git(repo, "add", "server.pem")
    git(repo, "commit", "-q", "-m", "track a pem")
    taken = snap(repo)
    assert {s.path for s in taken.skipped} == {".env", "keys/id_rsa"}
    listing = tree_listing(repo, taken.tree)
    assert "server.pem" in listing and ".env" not in listing
    (repo / "server.pem").write_text("changed\n")
    (repo / ".env").write_text("TOKEN=2\n")
    again = snap(repo, ["server.pem", ".env"])
    assert not again.reconciled and {s.path for s in again.skipped} == {".env", "keys/id_rsa"}
    assert_exact(repo, again.tree)
    git(repo, "add", ".env")  # the user decides to track it: from now on it is code
    tracked = snap(repo, [".env"])
    assert ".env" in tree_listing(repo, tracked.tree)
    assert {s.path for s in tracked.skipped} == {"keys/id_rsa"}


def test_gcp_style_credentials_json_is_a_secret(repo: Path) -> None:
    (repo / "my-credentials.json").write_text("{}\n")
    taken = snap(repo)
    assert [s.path for s in taken.skipped] == ["my-credentials.json"]


@pytest.mark.parametrize("where", ["bare", "plain", "inside .git"])
def test_not_a_working_tree_is_a_one_line_error(tmp_path: Path, repo: Path, where: str) -> None:
    if where == "bare":
        cwd = tmp_path / "bare.git"
        git(tmp_path, "init", "-q", "--bare", str(cwd))
    elif where == "plain":
        cwd = tmp_path / "plain"
        cwd.mkdir()
    else:
        cwd = repo / ".git"
    for command in ("snapshot", "init", "log"):
        done = run_cli(cwd, command)
        assert done.returncode != 0
        assert done.stderr.startswith("autocommit: error: ") and done.stderr.count("\n") == 1
        assert done.stdout == ""


def test_autocrlf_and_file_mode_false(repo: Path) -> None:
    git(repo, "config", "core.autocrlf", "true")
    git(repo, "config", "core.fileMode", "false")
    (repo / "windows.txt").write_bytes(b"one\r\ntwo\r\n")
    (repo / "train.py").write_bytes(b"lr = 0.1\r\n")
    (repo / "train.py").chmod(0o755)
    (repo / "tool.sh").write_text("#!/bin/sh\n")
    (repo / "tool.sh").chmod(0o755)
    for paths in (None, ["windows.txt", "train.py", "tool.sh"]):
        taken = snap(repo, paths)
        assert git(repo, "cat-file", "blob", f"{taken.tree}:windows.txt") == "one\ntwo\n"
        listing = tree_listing(repo, taken.tree)
        assert listing["train.py"][0] == "100644" and listing["tool.sh"][0] == "100644"
        assert_exact(repo, taken.tree)
        (repo / "windows.txt").write_bytes(b"one\r\ntwo\r\n")


def test_clean_filter_applies(repo: Path) -> None:
    (repo / ".gitattributes").write_text("*.dat filter=upper\n")
    git(repo, "config", "filter.upper.clean", "tr a-z A-Z")
    git(repo, "config", "filter.upper.smudge", "cat")
    git(repo, "config", "filter.upper.required", "true")
    (repo / "data.dat").write_text("hello\n")
    full = snap(repo)
    assert git(repo, "cat-file", "blob", f"{full.tree}:data.dat") == "HELLO\n"
    (repo / "data.dat").write_text("again\n")
    (repo / "more.dat").write_text("more\n")
    incremental = snap(repo, ["data.dat", "more.dat"])
    assert not incremental.reconciled
    assert git(repo, "cat-file", "blob", f"{incremental.tree}:data.dat") == "AGAIN\n"
    assert_exact(repo, incremental.tree)


def test_failing_clean_filter_is_a_one_line_error(repo: Path) -> None:
    (repo / ".gitattributes").write_text("*.dat filter=broken\n")
    git(repo, "config", "filter.broken.clean", "false")
    git(repo, "config", "filter.broken.required", "true")
    (repo / "data.dat").write_text("hello\n")
    before = user_state(repo)
    done = run_cli(repo, "snapshot")
    assert done.returncode != 0
    assert done.stderr.startswith("autocommit: error: ") and done.stderr.count("\n") == 1
    assert user_state(repo) == before


RACE = """
import json
from autocommit.engine.exclusions import ExclusionRules
from autocommit.gitio.repo import find_worktree
from autocommit.engine.snapshot import take_snapshot
ExclusionRules.reason_to_skip = lambda self, root, path: None  # as if readable when listed
snap = take_snapshot(find_worktree("."))
print(json.dumps(snap.to_dict()))
"""


def test_untracked_file_unreadable_by_the_time_git_reads_it(repo: Path) -> None:
    prefix = drop_root_powers()
    if prefix is None:
        pytest.skip("cannot make a file unreadable for this user (root without setpriv)")
    import json

    (repo / "fine.py").write_text("fine\n")
    (repo / "locked.txt").write_text("unreadable\n")
    (repo / "locked.txt").chmod(0)
    done = subprocess.run([*prefix, sys.executable, "-c", RACE], cwd=repo, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    taken = json.loads(done.stdout)
    assert [(s["path"], s["reason"]) for s in taken["skipped"]] == [
        ("locked.txt", "unreadable: Permission denied")
    ]
    assert set(tree_listing(repo, taken["tree"])) == {"train.py", "README.md", "fine.py"}
