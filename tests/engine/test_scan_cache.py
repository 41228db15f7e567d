"""A full scan after another one walks no directory that did not change and hashes no
file whose stat data did not change; each such scan is still exactly the working tree,
in the racy cases too: changes in the same tick as the cache was written, new entries in
known directories, directories replaced, ignore and attribute files, git's inputs."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from autocommit.engine import scan_cache
from autocommit.engine.snapshot import Snapshot, take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.git import (
    age,
    assert_private,
    git,
    new_repository,
    tree_listing,
    user_state,
)
from tests.support.oracle import assert_exact

WALK = ["ls-files", "-z", "--others", "--exclude-standard"]  # the full walk's listing


def _write(repo: Path, path: str, text: str) -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)


@pytest.fixture
def scanned(repo: Path) -> Path:
    """``repo`` with a few directories, an untracked file and a full scan behind it."""
    for path in ("src/a.py", "src/b.py", "src/deep/c.py", "docs/x.md"):
        _write(repo, path, f"{path}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "tree")
    _write(repo, "src/notes.txt", "untracked\n")
    take_snapshot(find_worktree(repo))
    return repo


def _full_scan(
    repo: Path, git_calls: list[list[str]], max_file_size: int = 5 * 1024**2
) -> tuple[Snapshot, bool]:
    """A full scan, and whether it walked the whole tree."""
    git_calls.clear()
    snap = take_snapshot(find_worktree(repo))
    assert snap.reconciled
    assert_exact(repo, snap.tree, max_file_size=max_file_size)
    return snap, WALK in git_calls


CHANGES: list[tuple[str, Callable[[Path], object]]] = [
    ("a tracked file edited in place", lambda r: _write(r, "src/a.py", "edited\n")),
    ("a new untracked file in a known directory", lambda r: _write(r, "src/deep/n.py", "n\n")),
    ("a new directory", lambda r: _write(r, "new/dir/f.py", "f\n")),
    ("an untracked file deleted", lambda r: (r / "src/notes.txt").unlink()),
    ("a tracked file deleted", lambda r: (r / "docs/x.md").unlink()),
    ("a directory removed", lambda r: shutil.rmtree(r / "src/deep")),
    ("a file made executable", lambda r: os.chmod(r / "src/b.py", 0o755)),
    ("an untracked file turned into a directory", lambda r: _into_directory(r, "src/notes.txt")),
    ("a file at the top", lambda r: _write(r, "top.txt", "top\n")),
]


def _into_directory(repo: Path, path: str) -> None:
    (repo / path).unlink(missing_ok=True)
    _write(repo, f"{path}/inner.py", "inner\n")


@pytest.mark.parametrize("change", [c for _, c in CHANGES], ids=[n for n, _ in CHANGES])
def test_a_change_is_found_without_a_walk(
    scanned: Path, git_calls: list[list[str]], change: Callable[[Path], object]
) -> None:
    change(scanned)
    _, walked = _full_scan(scanned, git_calls)
    assert not walked
    _, walked = _full_scan(scanned, git_calls)  # and the one after, from the new cache
    assert not walked


def test_changes_pile_up_exactly_across_scans(scanned: Path, git_calls: list[list[str]]) -> None:
    for _, change in CHANGES:
        change(scanned)
        _full_scan(scanned, git_calls)
    _write(scanned, "new/dir/f.py", "edited in place, long after it was found\n")
    _write(scanned, "src/deep/n.py", "edited in place too\n")
    _full_scan(scanned, git_calls)


def test_a_scan_without_a_walk_leaves_the_user_s_state_alone(
    scanned: Path, git_calls: list[list[str]]
) -> None:
    """``diff-files`` and the tree edit read the private index only: the user's index,
    HEAD, refs and files are as they were, and no ``index.lock`` appears."""
    for _, change in CHANGES:
        change(scanned)
    before = user_state(scanned)
    _, walked = _full_scan(scanned, git_calls)
    assert not walked
    assert user_state(scanned) == before
    assert not (scanned / ".git" / "index.lock").exists()


def test_a_directory_replaced_by_another(scanned: Path, git_calls: list[list[str]]) -> None:
    shutil.rmtree(scanned / "src")
    _write(scanned, "src/a.py", "another a\n")
    _write(scanned, "src/other.py", "other\n")
    _write(scanned, "src/deep/c.py", "another c\n")
    _, walked = _full_scan(scanned, git_calls)
    assert not walked


def test_a_file_changed_in_the_tick_the_cache_was_written(
    scanned: Path, git_calls: list[list[str]]
) -> None:
    """With ctime not trusted (as on some file systems) and the size unchanged, only the
    racy-timestamp rule tells this change: the file's mtime is the private index's."""
    git(scanned, "config", "core.trustctime", "false")
    _full_scan(scanned, git_calls)  # git's inputs changed: a walk
    state_dir = find_worktree(scanned).state_dir
    index_mtime = (state_dir / "index").stat().st_mtime_ns
    (scanned / "src/a.py").write_text("src/A.py\n")  # same size
    os.utime(scanned / "src/a.py", ns=(index_mtime, index_mtime))
    snap, walked = _full_scan(scanned, git_calls)
    assert not walked
    assert tree_listing(scanned, snap.tree)["src/a.py"] != tree_listing(scanned, "HEAD")["src/a.py"]


def test_a_directory_changed_in_the_tick_it_was_looked_at(scanned: Path) -> None:
    """A directory no older than the marker may have changed unseen: it counts as changed
    even with the same stat data."""
    cache = scan_cache.load(find_worktree(scanned).state_dir)
    assert cache is not None
    keys = cache.directories.values()
    newest, oldest = max(max(k[0], k[1]) for k in keys), min(k[0] for k in keys)
    for marker, changed in ((newest + 1, []), (oldest, sorted(cache.directories))):
        kept = scan_cache.ScanCache(marker, cache.private_index, cache.directories, cache.meta, [])
        changes, _ = scan_cache.check(scanned, kept)
        assert sorted(changes.directories) == changed and not changes.meta_changed


IGNORE_CHANGES: list[tuple[str, Callable[[Path], object]]] = [
    ("an untracked file ignored now", lambda r: _write(r, ".gitignore", "notes.txt\n")),
    ("a .gitignore in a new directory", lambda r: _write(r, "new/.gitignore", "*.py\n")),
    ("a .gitignore deleted", lambda r: (r / "src/.gitignore").unlink()),
    ("attributes", lambda r: _write(r, "src/.gitattributes", "*.py -text\n")),
    ("info/exclude", lambda r: _write(r, ".git/info/exclude", "*.txt\n")),
    ("core.excludesFile", lambda r: git(r, "config", "core.excludesFile", str(r / "ex"))),
]


@pytest.mark.parametrize("change", [c for _, c in IGNORE_CHANGES],
                         ids=[n for n, _ in IGNORE_CHANGES])  # fmt: skip
def test_what_decides_ignored_files_sends_the_scan_back_to_a_walk(
    scanned: Path, git_calls: list[list[str]], change: Callable[[Path], object]
) -> None:
    _write(scanned, "src/.gitignore", "*.log\n")
    _write(scanned, "src/run.log", "ignored\n")
    _write(scanned, "ex", "*.md\n")
    _full_scan(scanned, git_calls)
    _write(scanned, "new/x.py", "x\n")
    _full_scan(scanned, git_calls)
    change(scanned)
    _, walked = _full_scan(scanned, git_calls)
    assert walked


def test_exclusions_are_looked_at_again(
    scanned: Path, git_calls: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOCOMMIT_MAX_FILE_SIZE", "1k")
    _full_scan(scanned, git_calls, 1024)  # the rules changed: a walk
    (scanned / "src/notes.txt").write_text("x" * 2000)  # kept before, too big now
    _write(scanned, "big.bin", "y" * 2000)
    snap, walked = _full_scan(scanned, git_calls, 1024)
    assert not walked
    assert {s.path for s in snap.skipped} == {"src/notes.txt", "big.bin"}
    (scanned / "src/notes.txt").write_text("small again\n")
    snap, walked = _full_scan(scanned, git_calls, 1024)
    assert not walked and {s.path for s in snap.skipped} == {"big.bin"}
    os.chmod(scanned / "src/notes.txt", 0o600)  # owner-only: left out
    snap, walked = _full_scan(scanned, git_calls, 1024)
    assert not walked and {s.path for s in snap.skipped} == {"big.bin", "src/notes.txt"}


def test_your_index_changing_what_it_tracks_sends_the_scan_back_to_a_walk(
    scanned: Path, git_calls: list[list[str]]
) -> None:
    git(scanned, "add", "src/notes.txt")
    _, walked = _full_scan(scanned, git_calls)
    assert walked
    git(scanned, "status", "--porcelain")  # stat data refreshed only: no walk
    _write(scanned, "src/a.py", "again\n")
    _, walked = _full_scan(scanned, git_calls)
    assert not walked


def test_a_nested_repository_appearing_in_a_known_directory(
    scanned: Path, git_calls: list[list[str]]
) -> None:
    _write(scanned, "src/lib/code.py", "untracked code\n")
    snap, _ = _full_scan(scanned, git_calls)
    assert "src/lib/code.py" in tree_listing(scanned, snap.tree)
    git(scanned / "src" / "lib", "init", "-q")
    snap, _ = _full_scan(scanned, git_calls)
    assert "src/lib" in {s.path for s in snap.skipped}


def test_the_cache_is_private_and_a_stranger_index_is_not_trusted(
    scanned: Path, git_calls: list[list[str]]
) -> None:
    worktree = find_worktree(scanned)
    assert_private(worktree.state_dir)
    assert (worktree.state_dir / "scan-cache.json").exists()
    # Another writer of the private index (or a crash before the cache was written).
    git(scanned, "update-index", "--force-remove", "src/a.py",
        env={"GIT_INDEX_FILE": str(worktree.state_dir / "index")})  # fmt: skip
    _, walked = _full_scan(scanned, git_calls)
    assert walked


def test_a_submodule_counts_by_its_commit(
    scanned: Path, tmp_path: Path, git_calls: list[list[str]]
) -> None:
    library = tmp_path / "library"
    new_repository(library, {"lib.py": "x = 1\n"}, "library")
    git(scanned, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    git(scanned, "commit", "-q", "-m", "add lib")
    _full_scan(scanned, git_calls)
    (scanned / "lib" / "lib.py").write_text("x = 2\n")  # its own change: not recorded
    _, walked = _full_scan(scanned, git_calls)
    assert not walked
    git(scanned / "lib", "commit", "-q", "-am", "moved")  # its commit: recorded
    snap, _ = _full_scan(scanned, git_calls)
    moved = git(scanned / "lib", "rev-parse", "HEAD").strip()
    assert tree_listing(scanned, snap.tree)["lib"] == ("160000", moved)


def test_a_cache_that_still_holds_is_not_written_again(
    scanned: Path, git_calls: list[list[str]]
) -> None:
    cache_file = find_worktree(scanned).state_dir / "scan-cache.json"
    _write(scanned, "src/new.py", "new\n")  # a directory changes: a new cache
    _full_scan(scanned, git_calls)
    time.sleep(0.05)  # past the clock tick of the directory's change
    _full_scan(scanned, git_calls)  # src was racy, maybe: looked at once more
    written = cache_file.read_bytes()
    _write(scanned, "src/a.py", "edited in place\n")  # no directory changes
    _, walked = _full_scan(scanned, git_calls)
    assert not walked and cache_file.read_bytes() == written
    _write(scanned, "docs/later.md", "later\n")
    snap, walked = _full_scan(scanned, git_calls)
    assert not walked and "docs/later.md" in tree_listing(scanned, snap.tree)


def _directories(top: Path) -> list[Path]:
    """``top`` and every directory below it."""
    return [Path(directory) for directory, _, _ in os.walk(top)]


def test_a_walk_that_left_many_racy_entries_is_done_again_once_their_second_is_over(
    scanned: Path, git_calls: list[list[str]]
) -> None:
    """Files changed in the second git wrote the private index are racily clean: git
    reads each of them again at every scan without a walk (their stat data cannot tell a
    later change within that second). When many directories changed then (a checkout, a
    generator), the next full scan after that second walks once more, and the index it
    writes is trusted; a few files (the fixture's walk) are not worth a walk."""
    state_dir = find_worktree(scanned).state_dir
    first = scan_cache.load(state_dir)
    assert first is not None and not first.racy
    for i in range(scan_cache.RACY_DIRECTORIES):  # as a checkout writes them
        _write(scanned, f"gen/d{i}/out.txt", f"{i}\n")
    git(scanned, "add", "gen")
    before = user_state(scanned)
    age(*_directories(scanned / "gen"), seconds=-5)  # changed in the second git writes the index
    _, walked = _full_scan(scanned, git_calls)  # your index tracks more: a walk
    assert walked
    cache = scan_cache.load(state_dir)
    assert cache is not None and cache.racy and cache.private_index is not None
    written = cache.private_index[0]
    assert not scan_cache.walk_again(cache, written), "not within that second"
    assert scan_cache.walk_again(cache, written - written % 10**9 + 10**9), "once it is over"
    age(*_directories(scanned / "gen"))  # the generator is long done
    while time.time_ns() < (written // 10**9 + 1) * 10**9 + 200_000_000:
        time.sleep(0.05)
    _, walked = _full_scan(scanned, git_calls)
    assert walked
    cache = scan_cache.load(state_dir)
    assert cache is not None and not cache.racy
    assert user_state(scanned) == before
    _write(scanned, "gen/d0/out.txt", "edited\n")
    _, walked = _full_scan(scanned, git_calls)
    assert not walked


def test_a_burst_too_big_to_rescan_is_walked_and_its_cache_serves_the_next_scan(
    scanned: Path, git_calls: list[list[str]]
) -> None:
    """More new directories than a scan without a walk takes on: it walks, without the old
    cache (let go of before the walk), and saves the walk's cache for the next one."""
    from autocommit.engine.snapshot import MAX_RESCANNED_PATHS

    for i in range(MAX_RESCANNED_PATHS + 10):
        _write(scanned, f"burst/d{i}/f.txt", f"{i}\n")
    age(*_directories(scanned / "burst"))  # not in the walk's second (a later scan walks again)
    _, walked = _full_scan(scanned, git_calls)
    assert walked
    cache = scan_cache.load(find_worktree(scanned).state_dir)
    assert cache is not None and f"burst/d{MAX_RESCANNED_PATHS}" in cache.directories
    _write(scanned, f"burst/d{MAX_RESCANNED_PATHS}/f.txt", "edited\n")
    _, walked = _full_scan(scanned, git_calls)
    assert not walked
