"""Objects written from Python are the loose objects git itself writes: the same bytes,
the same place and mode, no temporary left; where git's config asks for other modes
(``core.sharedRepository``), snapshots leave the writing to git."""

from __future__ import annotations

import os
import stat
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocommit.engine.kept_processes import OBJECTS_AHEAD
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.loose_objects import AHEAD, LooseObjects
from autocommit.gitio.repo import find_worktree
from tests.support.git import assert_fsck_clean, assert_private, git, new_repository
from tests.support.oracle import expected_tree
from tests.support.readme import says


@pytest.fixture
def umask() -> Iterator[int]:
    """A umask that makes a difference between git's modes and a careless writer's."""
    old = os.umask(0o077)
    try:
        yield 0o077
    finally:
        os.umask(old)


def _loose_files(objects: Path) -> dict[str, Path]:
    found = {}
    for directory in objects.iterdir():
        if len(directory.name) == 2 and directory.is_dir():
            for entry in directory.iterdir():
                found[directory.name + entry.name] = entry
    return found


def _store(root: Path) -> LooseObjects:
    store = LooseObjects(root / ".git" / "objects")
    store.permit(True)
    return store


def test_objects_are_the_bytes_git_writes_where_git_writes_them(tmp_path: Path, umask: int) -> None:
    ours = new_repository(tmp_path / "ours", {"a.txt": "a\n"})
    theirs = new_repository(tmp_path / "theirs", {"a.txt": "a\n"})
    head = git(ours, "rev-parse", "HEAD").strip()
    tree = git(ours, "rev-parse", "HEAD^{tree}").strip()
    commit = git(ours, "cat-file", "commit", "HEAD").replace(tree, tree).encode()
    objects = {
        "blob": b"data \x00\xff with odd bytes\n",
        "tree": git(ours, "cat-file", "tree", tree, input=None).encode(errors="surrogateescape"),
        "commit": commit.replace(b"initial", b"another"),
    }
    store = _store(ours)
    for kind, body in objects.items():
        sha = store.write(kind, body, head)
        stored = git(theirs, "hash-object", "-t", kind, "-w", "--stdin", input=body).strip()
        assert sha == stored, kind
        path = ours / ".git" / "objects" / sha[:2] / sha[2:]
        git_path = theirs / ".git" / "objects" / sha[:2] / sha[2:]
        assert zlib.decompress(path.read_bytes()) == zlib.decompress(git_path.read_bytes())
        assert stat.S_IMODE(path.stat().st_mode) == 0o444 & ~umask
        assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(git_path.stat().st_mode)
        assert git(ours, "cat-file", "-t", sha).strip() == kind
    leftovers = [p for p in (ours / ".git" / "objects").rglob("tmp_obj_*")]
    assert leftovers == []
    assert_fsck_clean(ours)


def test_an_object_already_stored_is_freshened_not_written_again(tmp_path: Path) -> None:
    """As git does, so that `git gc` does not prune an object a new ref names."""
    root = new_repository(tmp_path / "repo", {"a.txt": "a\n"})
    store = _store(root)
    like = git(root, "rev-parse", "HEAD").strip()
    sha = store.write("blob", b"kept\n", like)
    path = root / ".git" / "objects" / sha[:2] / sha[2:]
    os.utime(path, (1_000_000_000, 1_000_000_000))
    inode = path.stat().st_ino
    assert store.write("blob", b"kept\n", like) == sha
    assert path.stat().st_ino == inode and path.stat().st_mtime > 1_000_000_000


def test_without_hard_links_objects_are_renamed_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = new_repository(tmp_path / "repo", {"a.txt": "a\n"})

    def no_links(src: object, dst: object) -> None:
        raise PermissionError("no hard links here")

    monkeypatch.setattr(os, "link", no_links)
    sha = _store(root).write("blob", b"renamed\n", git(root, "rev-parse", "HEAD").strip())
    assert git(root, "cat-file", "blob", sha) == "renamed\n"
    assert list((root / ".git" / "objects").rglob("tmp_obj_*")) == []


def test_a_shared_repository_gets_its_objects_from_git(tmp_path: Path, umask: int) -> None:
    """``core.sharedRepository=group``: git makes every object group-readable whatever
    the umask, and its directories setgid; snapshots leave the writing to git there."""
    says("In a repository with `core.sharedRepository` set, trees and commits are written "
         "by `git mktree` and `git hash-object`, which give them the modes that setting "
         "asks for")  # fmt: skip
    root = tmp_path / "shared"
    root.mkdir()
    git(root, "init", "-q", "--shared=group")
    new_repository(root, {"a.txt": "a\n", "pkg/b.py": "b\n"})
    worktree = find_worktree(root)
    before = set(_loose_files(root / ".git" / "objects"))
    (root / "pkg" / "b.py").write_text("edited\n")
    (root / "pkg" / "new").mkdir(mode=0o755)
    (root / "pkg" / "new" / "c.py").write_text("new\n")
    (root / "pkg" / "new" / "c.py").chmod(0o644)  # not owner-only: snapshots keep it
    snap = take_snapshot(worktree)
    assert snap.tree == expected_tree(root)
    written = {sha: path for sha, path in _loose_files(root / ".git" / "objects").items()
               if sha not in before}  # fmt: skip
    assert snap.tree in written and snap.commit in written
    for sha, path in written.items():
        assert path.stat().st_mode & 0o040, f"{sha} is not readable by the group"
        assert path.parent.stat().st_mode & stat.S_ISGID, f"{path.parent} is not setgid"
    assert_fsck_clean(root)


def _ahead_store(root: Path, ahead: Path) -> LooseObjects:
    store = LooseObjects(root / ".git" / "objects", ahead)
    store.permit(True)
    return store


def test_temporaries_made_ahead_store_the_same_objects_and_leave_nothing(
    tmp_path: Path, umask: int
) -> None:
    """A kept writer makes its temporaries while nobody waits, in a directory of its
    own; the objects written through them are git's, with git's modes, and the
    temporaries go into the store (inode for inode) without one left behind."""
    says("the daemon makes the files of the next objects and the next sync's cookie "
         "ahead, while nobody waits")  # fmt: skip
    root = new_repository(tmp_path / "repo", {"a.txt": "a\n"})
    ahead = root / ".git" / "autocommit" / OBJECTS_AHEAD
    store = _ahead_store(root, ahead)
    like = git(root, "rev-parse", "HEAD").strip()
    store.make_ahead()
    made = {entry.stat().st_ino for entry in ahead.iterdir()}
    assert len(made) == AHEAD
    assert_private(ahead)
    written = [store.write("blob", f"object {n}\n".encode(), like) for n in range(3)]
    for n, sha in enumerate(written):
        path = root / ".git" / "objects" / sha[:2] / sha[2:]
        assert path.stat().st_ino in made
        assert stat.S_IMODE(path.stat().st_mode) == 0o444 & ~umask
        assert git(root, "cat-file", "blob", sha) == f"object {n}\n"
    assert len(list(ahead.iterdir())) == AHEAD - 3
    store.make_ahead(enough=lambda: len(list(ahead.iterdir())) >= AHEAD - 1)
    assert len(list(ahead.iterdir())) == AHEAD - 1  # stopped when told
    store.discard_ahead()
    assert list(ahead.iterdir()) == []
    assert list((root / ".git" / "objects").rglob("tmp_obj_*")) == []
    assert_fsck_clean(root)


def test_temporaries_a_killed_writer_left_are_removed(tmp_path: Path) -> None:
    root = new_repository(tmp_path / "repo", {"a.txt": "a\n"})
    ahead = root / ".git" / "autocommit" / OBJECTS_AHEAD
    ahead.mkdir(parents=True)
    left = ahead / "tmp_obj_123_abcd"
    left.write_bytes(b"")
    store = _ahead_store(root, ahead)
    store.make_ahead()
    assert not left.exists() and len(list(ahead.iterdir())) == AHEAD
    store.discard_ahead()


def test_temporaries_made_ahead_on_another_file_system_are_given_up(tmp_path: Path) -> None:
    """Hard links do not cross file systems: the object is written the usual way, and
    no more temporaries are made ahead."""
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system")
    root = new_repository(tmp_path / "repo", {"a.txt": "a\n"})
    with tempfile.TemporaryDirectory(dir=other) as elsewhere:
        ahead = Path(elsewhere) / OBJECTS_AHEAD
        store = _ahead_store(root, ahead)
        store.make_ahead()
        assert len(list(ahead.iterdir())) == AHEAD
        sha = store.write("blob", b"elsewhere\n", git(root, "rev-parse", "HEAD").strip())
        assert git(root, "cat-file", "blob", sha) == "elsewhere\n"
        assert list(ahead.iterdir()) == []
        store.make_ahead()
        assert list(ahead.iterdir()) == []
    assert list((root / ".git" / "objects").rglob("tmp_obj_*")) == []


def test_a_temporary_made_ahead_is_out_of_the_state_directory_before_others_may_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under umask 000 an object is readable by all (as git makes it); the temporary gets
    that mode only once it was renamed into the object store's fan-out directory, so no
    name in autocommit's state directory is ever readable by others."""
    old = os.umask(0)
    try:
        root = new_repository(tmp_path / "repo", {"a.txt": "a\n"})
        ahead = root / ".git" / "autocommit" / OBJECTS_AHEAD
        store = _ahead_store(root, ahead)
        store.make_ahead()
        assert_private(ahead)
        where: list[str] = []
        real = os.fchmod

        def fchmod(fd: int, mode: int) -> None:
            where.append(os.readlink(f"/proc/self/fd/{fd}"))
            real(fd, mode)

        monkeypatch.setattr(os, "fchmod", fchmod)
        sha = store.write("blob", b"for everyone\n", git(root, "rev-parse", "HEAD").strip())
        path = root / ".git" / "objects" / sha[:2] / sha[2:]
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
        assert len(where) == 1 and Path(where[0]).parent == path.parent, where
        assert_private(ahead)
        assert list((root / ".git" / "objects").rglob("tmp_obj_*")) == []
        store.discard_ahead()
    finally:
        os.umask(old)


def test_the_directory_of_temporaries_is_owner_only_and_usable_whatever_the_umask(
    tmp_path: Path,
) -> None:
    """A umask that takes the owner's search permission off a new directory (0177, as
    binding the daemon's socket sets for a moment) still gives a usable 0700 directory."""
    root = new_repository(tmp_path / "repo", {"a.txt": "a\n"})
    ahead = root / ".git" / "autocommit" / OBJECTS_AHEAD
    store = _ahead_store(root, ahead)
    old = os.umask(0o177)
    try:
        store.make_ahead()
    finally:
        os.umask(old)
    assert stat.S_IMODE(ahead.stat().st_mode) == 0o700
    assert len(list(ahead.iterdir())) == AHEAD
    sha = store.write("blob", b"usable\n", git(root, "rev-parse", "HEAD").strip())
    assert git(root, "cat-file", "blob", sha) == "usable\n"
    store.discard_ahead()
