"""What a later run of a process pays for ``dependencies.json`` and ``data.json`` in large
trees, and that it stays exact: real repositories, each change checked against git."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import pathspec
import pytest

from autocommit.gitio.repo import find_worktree
from tests.support.daemon import enable
from tests.support.git import calls_to, git, new_repository
from tests.support.oracle import expected_tree
from tests.support.readme import says
from tests.tracking.test_context import make_library, write_data


def _dirty(root: Path) -> bool:
    # without optional locks: a refresh of the index would change the stamp
    return git(root, "--no-optional-locks", "status", "--porcelain").strip() != ""


def _library_with_a_virtualenv(lib: Path) -> Path:
    """A library whose working tree holds a virtualenv of 100 files (ignored) and an
    ignored ``build/`` holding one tracked file; returns the virtualenv's packages."""
    make_library(lib, "big_mod")
    (lib / ".gitignore").write_text("venv/\nbuild/\n")
    write_data(lib, {"build/keep.txt": b"kept\n", "build/out.o": b"\0"})
    git(lib, "add", ".gitignore")
    git(lib, "add", "-f", "build/keep.txt")
    git(lib, "commit", "-q", "-m", "ignore the virtualenv and the build")
    packages = lib / "venv" / "lib" / "site-packages"
    write_data(lib, {f"venv/lib/site-packages/m{n}.py": b"" for n in range(100)})
    (lib / "venv" / "pyvenv.cfg").write_text("home = /usr\n")
    return packages


@pytest.mark.parametrize("enabled", [False, True], ids=["plain", "enabled"])
@pytest.mark.parametrize("watched", [True, False], ids=["watched", "walked"])
def test_a_dependency_s_ignored_directories_are_not_walked_and_every_change_still_shows_up(
    watched: bool, enabled: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    git_calls: list[list[str]],
) -> None:  # fmt: skip
    """A virtualenv inside a dependency (over the walk limit on its own) no longer makes
    every run ask git: the tree is watched with inotify, or where it cannot be (over the
    watch budget) its stamp walks it, both skipping what ``git status`` found ignored as
    a whole. A tracked file inside an ignored directory, a new untracked file, an edit, a
    commit, a new directory and a file written in it, a renamed directory, and an ignore
    rule taken back each show up, as ``git status`` sees them."""
    from autocommit.tracking import dependencies, tree_stamp, tree_watch

    says("the run's process watches the tree's directories with inotify (not `.git`, nor "
         "the directories `git status` found ignored as a whole, such as a virtualenv "
         "inside it)")  # fmt: skip
    monkeypatch.setattr(tree_stamp, "SETTLED_NS", 0)  # the files were written just now
    monkeypatch.setattr(tree_stamp, "WALK_LIMIT", 60)  # the virtualenv alone is over it
    monkeypatch.setattr(dependencies, "WATCH_FROM", 0)  # a small tree, watched all the same
    monkeypatch.setattr(tree_stamp, "_too_large", set())
    if not watched:
        monkeypatch.setattr(tree_watch, "_budget", lambda: 0)
    lib = (tmp_path / "biglib").resolve()
    packages = _library_with_a_virtualenv(lib)
    if enabled:
        enable(lib)

    def described() -> dict[str, object]:
        entry = dependencies._describe(lib, ["big_mod"])
        assert entry["dirty"] is _dirty(lib)
        assert entry["head"] == git(lib, "rev-parse", "HEAD").strip()
        if enabled:
            assert isinstance(entry["commit"], str)
            assert git(lib, "rev-parse", f"{entry['commit']}^{{tree}}").strip() == (
                expected_tree(lib))  # fmt: skip
        return entry

    first = described()
    assert first["dirty"] is False
    git_calls.clear()
    (packages / "m0.py").write_text("an ignored edit\n")
    (packages / "new.py").write_text("")
    assert dependencies._describe(lib, ["big_mod"]) == first
    assert all(call[:2] == ["config", "-z"] for call in git_calls), git_calls  # reused
    assert (dependencies._watches[lib].current() != 0) is watched
    assert not tree_stamp.too_large(lib)
    changes: list[Callable[[], object]] = [
        lambda: (lib / "build" / "keep.txt").write_text("tracked, in an ignored directory\n"),
        lambda: git(lib, "checkout", "--", "build/keep.txt"),
        lambda: (lib / "big_mod" / "extra.py").write_text("UNTRACKED = 1\n"),
        lambda: (lib / "big_mod" / "extra.py").unlink(),
        lambda: (lib / "big_mod" / "__init__.py").write_text("def scale(x):\n    return x\n"),
        lambda: git(lib, "commit", "-q", "-am", "scale by 1"),
        lambda: write_data(lib, {"big_mod/sub/a.py": b""}),
        lambda: git(lib, "add", "big_mod/sub/a.py"),  # staged
        lambda: git(lib, "commit", "-q", "-m", "sub"),
        lambda: (lib / "big_mod" / "sub" / "a.py").write_text("in a directory made since\n"),
        lambda: git(lib, "checkout", "--", "big_mod/sub/a.py"),
        lambda: (lib / "big_mod" / "sub").rename(lib / "big_mod" / "moved"),
        lambda: git(lib, "add", "-A", "big_mod"),
        lambda: git(lib, "commit", "-q", "-m", "moved"),
        lambda: (lib / "big_mod" / "moved" / "a.py").write_text("in a renamed directory\n"),
        lambda: git(lib, "checkout", "--", "big_mod/moved/a.py"),
        lambda: (lib / ".gitignore").write_text("build/\n"),  # the virtualenv is untracked now
    ]
    dirty = []
    for change in changes:
        time.sleep(0.02)  # past the clock's resolution
        change()
        dirty.append(described()["dirty"])
        assert dependencies._describe(lib, ["big_mod"])["dirty"] is dirty[-1]
    assert dirty == [True, False, True, False, True, False, True, True, False, True, False,
                     True, True, False, True, False, True]  # fmt: skip


def test_a_forked_child_never_reads_its_parent_s_watch(tmp_path: Path) -> None:
    """A forked child shares the parent's inotify queue: reading it there would take the
    events the parent needs. The child sees the tree as not watched."""
    from autocommit.tracking.tree_watch import TreeWatch

    (tmp_path / "sub").mkdir()
    watch = TreeWatch(str(tmp_path), frozenset())
    try:
        before = watch.current()
        assert before != 0
        (tmp_path / "sub" / "new.txt").write_text("changed\n")
        pid = os.fork()
        if pid == 0:  # the child: reads nothing, leaves at once
            os._exit(0 if watch.current() == 0 and not watch.mine else 1)
        assert os.waitpid(pid, 0)[1] == 0
        assert watch.current() not in (0, before)
    finally:
        watch.close()


def _inotify_instances() -> int:
    links = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed since
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sum("inotify" in link for link in links)


def test_every_tree_shares_one_inotify_instance_and_each_keeps_its_events(
    tmp_path: Path,
) -> None:
    """A user may have 128 inotify instances, the daemons' included: a process uses one
    for every tree it watches. A directory two trees watch reports to both, each by its
    own mask, and stays watched while one of them does."""
    from autocommit.tracking.tree_watch import TreeWatch, held

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "file.txt").write_text("1\n")
    TreeWatch(str(tmp_path / "sub"), frozenset()).close()  # this process's queue exists
    before, watches = _inotify_instances(), held()
    names = TreeWatch(str(tmp_path), frozenset(), names_only=True)
    everything = TreeWatch(str(tmp_path / "sub"), frozenset())
    try:
        assert _inotify_instances() == before
        assert held() == watches + 2  # the top and sub/, sub/ once for both trees
        seen = names.current(), everything.current()
        (tmp_path / "sub" / "file.txt").write_text("2\n")  # content: only `everything`
        assert names.current() == seen[0]
        assert everything.current() not in (0, seen[1])
        everything.close()
        (tmp_path / "sub" / "new.txt").write_text("")  # a name: `names` still sees it
        assert names.current() not in (0, seen[0])
        assert held() == watches + 2
    finally:
        names.close()
        everything.close()
    assert held() == watches


def test_a_tree_over_the_watch_budget_is_described_by_git_at_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, git_calls: list[list[str]]
) -> None:
    """The watches of a process stay within an eighth of the user's inotify limit, which
    the daemons share; a tree that would need more is described by ``git status``."""
    from autocommit.tracking import dependencies, tree_stamp, tree_watch

    says("Past an eighth of your inotify watch limit it `stat`s every file and directory "
         "of the tree instead")  # fmt: skip
    assert tree_watch._budget() == int(
        Path("/proc/sys/fs/inotify/max_user_watches").read_text()) // 8  # fmt: skip
    budget = tree_watch.held() + 2  # the tree has five directories
    monkeypatch.setattr(tree_watch, "_budget", lambda: budget)
    monkeypatch.setattr(tree_stamp, "SETTLED_NS", 0)
    monkeypatch.setattr(tree_stamp, "WALK_LIMIT", 5)
    monkeypatch.setattr(tree_stamp, "_too_large", set())
    lib = (tmp_path / "lib").resolve()
    make_library(lib, "wide_mod")
    write_data(lib, {f"wide_mod/d{n}/x.py": b"" for n in range(3)})
    used = tree_watch.held()
    dependencies._describe(lib, ["wide_mod"])
    git_calls.clear()
    assert dependencies._describe(lib, ["wide_mod"])["dirty"] is True
    assert [call[0] for call in git_calls if call[0] == "status"] == ["status"]
    assert tree_watch.held() == used  # the watches set were taken back


def test_a_stamp_lists_again_only_when_a_directory_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A later stamp ``stat``s the paths the last walk found; a name added anywhere
    changes its directory's times, and the tree is walked again. A walk through a
    directory changed in the last two seconds is not kept (a name added in the same
    tick would leave its times as they were)."""
    from autocommit.tracking import tree_stamp

    lib = tmp_path / "lib"
    make_library(lib, "listed")
    git_dir = lib / ".git"
    tree_stamp.tree_stamp(lib, git_dir, git_dir)
    assert not any(key[0] == lib for key in tree_stamp._walks), "kept a walk of a new tree"
    monkeypatch.setattr(tree_stamp, "SETTLED_NS", 0)
    first = tree_stamp.tree_stamp(lib, git_dir, git_dir)
    listed = calls_to(monkeypatch, os, "scandir")
    assert tree_stamp.tree_stamp(lib, git_dir, git_dir) == first
    assert listed == []
    time.sleep(0.02)
    (lib / "listed" / "deep").mkdir()
    (lib / "listed" / "deep" / "new.py").write_text("")
    again = tree_stamp.tree_stamp(lib, git_dir, git_dir)
    assert again is not None and str(lib / "listed" / "deep" / "new.py") in {s[0] for s in again}
    assert listed != []


_PATTERNS = ["data/", "/data/", "data/raw", "/a/b/*.csv", "a/**/x", "*.csv", "!data/x",
             "/d[ab]/x", "\\#x/y", "x/ ", "**/data", "/inputs", "a/b/", "/"]  # fmt: skip
_PATHS = ["data/f", "x/data/f", "data/raw/f", "q/data/raw/f", "a/b/c.csv", "a/b/c/d.csv",
          "a/x", "a/q/r/x", "da/x", "db/x/f", "#x/y", "x/f", "inputs", "inputs/f",
          "q/inputs/f", "a/b/f", "q/a/b/f", "top.csv"]  # fmt: skip


@pytest.mark.parametrize("pattern", _PATTERNS)
def test_the_data_walk_enters_every_directory_that_can_hold_a_match(pattern: str) -> None:
    """The walk prunes by each pattern's literal leading components; every file git's
    own pattern rules (pathspec) match lies in directories the walk enters."""
    from autocommit.tracking import data_files

    patterns = (pattern,)
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    for path in _PATHS:
        if spec.match_file(path):
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth]) + "/"
                assert data_files._may_hold(patterns, directory), (pattern, path, directory)


def test_an_anchored_data_path_keeps_the_walk_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/data/`` and ``inputs/*.csv`` list the top, the way down and what is under them,
    nothing else; they find what git's pattern rules find. A later run lists nothing; a
    file added deep down is found."""
    from autocommit.tracking import data_files

    says("A pattern with a `/` before its end is anchored to the top of the repository, "
         "and the walk stays on its way: `/data/` or `inputs/*.csv` walk only `data/` or "
         "`inputs/`")  # fmt: skip
    monkeypatch.setattr(data_files, "_SETTLED_NS", 0)  # listings kept at once
    root = tmp_path / "repo"
    root.mkdir()
    write_data(root, {
        "data/a.csv": b"1", "data/deep/b.bin": b"2", "inputs/c.csv": b"3",
        "inputs/skip.txt": b"4", "src/data/d.csv": b"5", "src/pkg/e.csv": b"6",
        "other/inputs/f.csv": b"7",
    })  # fmt: skip
    patterns = ("/data/", "inputs/*.csv")
    listed = calls_to(monkeypatch, data_files, "_listing")
    found = sorted(data_files.matching_files(root, patterns))
    oracle = sorted(pathspec.GitIgnoreSpec.from_lines(patterns).match_tree_files(root))
    assert found == oracle == ["data/a.csv", "data/deep/b.bin", "inputs/c.csv"]
    top = f"{root}{os.sep}"
    assert sorted(listed) == [top, f"{top}data/", f"{top}data/deep/", f"{top}inputs/"]
    listed.clear()
    assert sorted(data_files.matching_files(root, patterns)) == found
    assert listed == []
    time.sleep(0.02)
    write_data(root, {"data/deep/deeper/g.csv": b"8"})
    assert "data/deep/deeper/g.csv" in data_files.matching_files(root, patterns)


def test_a_later_data_walk_lists_no_directory_and_a_recent_one_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``data/`` (any depth) every directory is ``stat``ed, none listed, while
    none changed; a walk through a directory changed in the last two seconds is not
    kept."""
    from autocommit.tracking import data_files

    root = tmp_path / "repo"
    write_data(root, {"data/a.csv": b"1", "src/m.py": b"", "src/deep/data/b.csv": b"2"})
    patterns = ("data/",)
    data_files.matching_files(root, patterns)
    assert (f"{root}{os.sep}", patterns) not in data_files._walks, "kept a walk of new dirs"
    monkeypatch.setattr(data_files, "_SETTLED_NS", 0)
    first = sorted(data_files.matching_files(root, patterns))
    assert first == ["data/a.csv", "src/deep/data/b.csv"]
    scanned = calls_to(monkeypatch, os, "scandir")
    assert sorted(data_files.matching_files(root, patterns)) == first
    assert scanned == []
    time.sleep(0.02)
    os.rename(root / "src" / "deep" / "data", root / "src" / "deep" / "old")
    assert data_files.matching_files(root, patterns) == ["data/a.csv"]


@pytest.mark.parametrize("watched", [True, False], ids=["watched", "over-the-budget"])
def test_a_later_data_walk_reads_the_watch_and_a_name_changed_anywhere_is_found(
    watched: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once watched, a later walk makes no ``stat`` call at all; a ``data/`` directory
    made, renamed or removed anywhere since is found. Over the watch budget, every
    directory is ``stat``ed instead, as exactly."""
    from autocommit.tracking import data_files, tree_watch

    says("a later run reads that watch instead of walking")
    says("Past an eighth of your inotify watch limit (`fs.inotify.max_user_watches`, which "
         "the daemons share) it `stat`s each directory of the walk instead")  # fmt: skip
    if not watched:
        monkeypatch.setattr(tree_watch, "_budget", lambda: 0)
    monkeypatch.setattr(data_files, "WATCH_FROM", 1)  # a small tree, watched all the same
    monkeypatch.setattr(data_files, "_SETTLED_NS", 0)
    root = tmp_path / "repo"
    write_data(root, {"data/a.csv": b"1", "src/m.py": b"", "src/pkg/n.py": b""})
    patterns = ("data/", "datasets/")
    assert data_files.matching_files(root, patterns) == ["data/a.csv"]
    stats = calls_to(monkeypatch, os, "lstat")
    assert data_files.matching_files(root, patterns) == ["data/a.csv"]
    assert (stats == []) is watched
    deep, deeper = "src/pkg/deep", "src/deeper/datasets"
    changes: list[tuple[Callable[[], object], list[str]]] = [
        (lambda: write_data(root, {f"{deep}/data/b.csv": b"2"}), [f"{deep}/data/b.csv"]),
        (lambda: (root / deep / "data").rename(root / deep / "datasets"),
         [f"{deep}/datasets/b.csv"]),
        (lambda: (root / deep).rename(root / "src/deeper"), [f"{deeper}/b.csv"]),
        (lambda: write_data(root, {f"{deeper}/c/d.csv": b"3"}),
         [f"{deeper}/b.csv", f"{deeper}/c/d.csv"]),
    ]  # fmt: skip
    for change, expected in changes:
        time.sleep(0.02)  # past the clock's resolution
        change()
        assert sorted(data_files.matching_files(root, patterns)) == ["data/a.csv", *expected]
    time.sleep(0.02)
    for name in ("b.csv", "c/d.csv"):
        (root / "src/deeper/datasets" / name).unlink()
    (root / "src/deeper/datasets/c").rmdir()
    assert data_files.matching_files(root, patterns) == ["data/a.csv"]


def test_runs_in_a_small_repository_hold_no_inotify_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user has 128 inotify instances, shared with the daemons, editors and the rest: a
    process making runs where a ``stat`` is cheap (few directories to walk, a small
    dependency) holds none; past the thresholds it watches."""
    from autocommit.settings import config
    from autocommit.tracking import data_files, dependencies, tree_stamp, tree_watch

    says("A repository of fewer than 256 directories to walk, and a dependency of at most "
         "1000 files and directories, are `stat`ed instead: no inotify instance")  # fmt: skip
    monkeypatch.setattr(tree_watch, "_queue", None)
    monkeypatch.setattr(data_files, "_SETTLED_NS", 0)
    monkeypatch.setattr(tree_stamp, "SETTLED_NS", 0)
    repo = new_repository(tmp_path / "repo", {"train.py": "x\n", "data/a.csv": "1\n"})
    lib = new_repository(tmp_path / "lib", {"lib/__init__.py": "", "lib/core.py": "y\n"})
    settings = config.load(repo)
    worktree = find_worktree(repo)
    for _ in range(2):
        data_files.data_json(worktree, settings, git(repo, "rev-parse", "HEAD").strip())
        dependencies._stamp(lib.resolve())
    assert tree_watch._queue is None
    monkeypatch.setattr(data_files, "WATCH_FROM", 1)
    monkeypatch.setattr(dependencies, "WATCH_FROM", 1)
    for _ in range(2):
        data_files.data_json(worktree, settings, git(repo, "rev-parse", "HEAD").strip())
        dependencies._stamp(lib.resolve())
    assert tree_watch._queue is not None and tree_watch._queue.owners
