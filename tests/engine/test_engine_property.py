"""Property: after any sequence of edits, git operations and snapshots, every snapshot's
tree is exactly the working tree (computed independently in tests/support/oracle.py), and
the user's index, HEAD, branches and files are untouched by the snapshots.

Incremental snapshots get exactly the paths the operations touched, as a file watcher
reports them (found by comparing the file system before and after each operation).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autocommit.daemon import client
from autocommit.engine.kept_processes import GitPipes
from autocommit.engine.snapshot import Snapshot, take_snapshot
from autocommit.gitio.objects import ObjectReader, diff_trees
from autocommit.gitio.repo import find_worktree
from tests.support.daemon import enable, stop_for_sure
from tests.support.engine import churn
from tests.support.git import git, user_state, walk
from tests.support.oracle import expected_listing, snapshot_listing

DEEP = "/".join(["z"] * 60)
DIRS = ("", "src", "src/deep", "data", "new dir", "build", DEEP)
NAMES = ("a.py", "b.txt", "run.sh", "with space.py", "ünï.py", "-dash.py", "x.log", ".env",
         ":!y", ":(glob)**", "a*b", "!c.py", "new\nline.py", "[x].py")  # fmt: skip
IGNORE_PATTERNS = ("*.log", "build/", "data/*.txt", "!keep.log")


def _path(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


@dataclass
class World:
    root: Path
    touched: set[str] = field(default_factory=set)
    counter: int = 0
    last_tree: str | None = None

    def fs_state(self) -> dict[str, tuple[str, bytes | int]]:
        found: dict[str, tuple[str, bytes | int]] = {}
        for dirpath, dirnames, filenames in walk(self.root):
            rel_dir = os.path.relpath(dirpath, self.root)
            if rel_dir == ".":
                dirnames[:] = [d for d in dirnames if d != ".git"]
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, self.root)
                info = os.lstat(full)
                if stat.S_ISLNK(info.st_mode):
                    found[rel] = ("link", os.fsencode(os.readlink(full)))
                elif stat.S_ISDIR(info.st_mode):
                    found[rel] = ("dir", 0)
                elif stat.S_ISFIFO(info.st_mode):
                    found[rel] = ("fifo", info.st_ino)
                else:
                    found[rel] = ("file", Path(full).read_bytes() + b"%o" % info.st_mode)
        return found

    def apply(self, op: tuple[object, ...], report_dirs: bool) -> None:
        before = self.fs_state()
        _OPS[str(op[0])](self, *op[1:])
        after = self.fs_state()
        for path in set(before) | set(after):
            if before.get(path) != after.get(path):
                kind = (after.get(path) or before.get(path) or ("file",))[0]
                if kind != "dir" or report_dirs:
                    self.touched.add(path)


def _can_create(world: World, target: Path) -> bool:
    """Every ancestor of ``target`` is a real directory or missing (mkdir -p works)."""
    for ancestor in target.relative_to(world.root).parents:
        full = world.root / ancestor
        if os.path.lexists(full) and (full.is_symlink() or not full.is_dir()):
            return False
    return True


def _write(world: World, directory: str, name: str, text: str) -> None:
    target = world.root / _path(directory, name)
    if not _can_create(world, target) or target.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_fifo():
        target.unlink()  # (opening a FIFO to write would wait for a reader)
    target.write_text(text)


def _append(world: World, directory: str, name: str) -> None:
    target = world.root / _path(directory, name)
    if _can_create(world, target) and target.is_file() and not target.is_symlink():
        with open(target, "a") as handle:
            handle.write("more\n")


def _delete(world: World, directory: str, name: str) -> None:
    target = world.root / _path(directory, name)
    if not _can_create(world, target):
        return
    if target.is_symlink() or target.is_file() or target.is_fifo():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)


def _rmdir(world: World, directory: str) -> None:
    target = world.root / directory
    if directory and _can_create(world, target) and target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)


def _dir_to_file(world: World, directory: str) -> None:
    target = world.root / directory
    if directory and _can_create(world, target) and target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
        target.write_text("a file where a directory was\n")


def _rename(world: World, d1: str, n1: str, d2: str, n2: str) -> None:
    source, target = world.root / _path(d1, n1), world.root / _path(d2, n2)
    if not (source.is_file() or source.is_symlink()) or os.path.lexists(target):
        return
    if not _can_create(world, source) or not _can_create(world, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, target)


def _chmod(world: World, directory: str, name: str, executable: bool) -> None:
    target = world.root / _path(directory, name)
    if _can_create(world, target) and target.is_file() and not target.is_symlink():
        target.chmod(0o755 if executable else 0o644)


def _symlink(world: World, directory: str, name: str, destination: str) -> None:
    target = world.root / _path(directory, name)
    if os.path.lexists(target) or not _can_create(world, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(destination)


def _gitignore(world: World, pattern: str, add: bool) -> None:
    path = world.root / ".gitignore"
    lines = path.read_text().splitlines() if path.is_file() else []
    lines = [line for line in lines if line != pattern] + ([pattern] if add else [])
    path.write_text("".join(line + "\n" for line in lines))


def _git_add(world: World, directory: str, name: str) -> None:
    git(world.root, "--literal-pathspecs", "add", "-f", "--", _path(directory, name), check=False)


def _fifo(world: World, directory: str, name: str) -> None:
    """A FIFO where a file was (tracked or not), or where nothing was."""
    target = world.root / _path(directory, name)
    if not _can_create(world, target) or target.is_dir() or target.is_fifo():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(target):
        target.unlink()
    os.mkfifo(target)


def _flag(world: World, directory: str, name: str, flag: str) -> None:
    """Mark a tracked file skip-worktree or assume-unchanged in the user's index, or not."""
    git(world.root, "--literal-pathspecs", "update-index", flag, "--", _path(directory, name),
        check=False)  # fmt: skip


def _sparse(world: World, cone: str) -> None:
    """Change the sparse checkout's cone (git removes and restores files), or end it."""
    args = ["disable"] if cone == "all" else ["set", cone]
    git(world.root, "sparse-checkout", *args, check=False)


def _commit(world: World, everything: bool) -> None:
    if everything:
        git(world.root, "add", "-A", check=False)
    git(world.root, "commit", "-q", "-m", f"commit {world.counter}", check=False)
    world.counter += 1


def _branch(world: World, name: str) -> None:
    exists = git(world.root, "branch", "--list", name).strip() != ""
    git(world.root, "checkout", "-q", *([] if exists else ["-b"]), name, check=False)


_OPS: dict[str, Callable[..., None]] = {
    "write": _write,
    "append": _append,
    "delete": _delete,
    "rmdir": _rmdir,
    "dir_to_file": _dir_to_file,
    "rename": _rename,
    "chmod": _chmod,
    "symlink": _symlink,
    "gitignore": _gitignore,
    "git_add": _git_add,
    "commit": _commit,
    "branch": _branch,
    "fifo": _fifo,
    "flag": _flag,
    "sparse": _sparse,
}

FLAGS = ("--skip-worktree", "--assume-unchanged", "--no-skip-worktree", "--no-assume-unchanged")
# "churn": a full scan while another process creates and deletes files in churn/.
SNAPSHOTS = ("incremental", "incremental", "full", "churn")
dirs, names = st.sampled_from(DIRS), st.sampled_from(NAMES)
operations = st.one_of(
    st.tuples(st.just("write"), dirs, names, st.sampled_from(["x = 1\n", "y\r\n", "", "z\n"])),
    st.tuples(st.just("append"), dirs, names),
    st.tuples(st.just("delete"), dirs, names),
    st.tuples(st.just("rmdir"), dirs),
    st.tuples(st.just("dir_to_file"), dirs),
    st.tuples(st.just("rename"), dirs, names, dirs, names),
    st.tuples(st.just("chmod"), dirs, names, st.booleans()),
    st.tuples(st.just("symlink"), dirs, names, st.sampled_from(["a.py", "../b.txt", "src", "nx"])),
    st.tuples(st.just("gitignore"), st.sampled_from(IGNORE_PATTERNS), st.booleans()),
    st.tuples(st.just("git_add"), dirs, names),
    st.tuples(st.just("commit"), st.booleans()),
    st.tuples(st.just("branch"), st.sampled_from(["main", "topic"])),
    st.tuples(st.just("fifo"), dirs, names),
    st.tuples(st.just("flag"), dirs, names, st.sampled_from(FLAGS)),
    st.tuples(st.just("sparse"), st.sampled_from(["src", "data", "all"])),
    st.tuples(st.just("snapshot"), st.sampled_from(SNAPSHOTS)),
)


Snap = Callable[[list[str] | None], Snapshot]


def _check_snapshot(world: World, snap_of: Snap, full: bool) -> None:
    before = user_state(world.root)
    snap = snap_of(None if full else sorted(world.touched))
    assert user_state(world.root) == before
    world.touched.clear()
    expected = expected_listing(world.root)
    assert snapshot_listing(world.root, snap.tree) == expected
    assert git(world.root, "rev-parse", f"{snap.commit}^{{tree}}").strip() == snap.tree
    if snap.head is not None:
        git(world.root, "merge-base", "--is-ancestor", snap.head, snap.commit)
    tip = git(world.root, "rev-parse", snap.shadow_ref).strip()
    if snap.dirty:
        assert tip == snap.commit
    else:
        assert snap.commit == snap.head
    # Clean or not, the shadow tip holds the snapshot's tree and descends from HEAD.
    assert git(world.root, "rev-parse", f"{tip}^{{tree}}").strip() == snap.tree
    if snap.head is not None:
        git(world.root, "merge-base", "--is-ancestor", snap.head, tip)
    if world.last_tree is not None:  # the in-process tree diff agrees with git's
        with contextlib.closing(
            ObjectReader(world.root, world.root / ".git" / "objects")
        ) as reader:
            ours = diff_trees(reader, world.last_tree, snap.tree, limit=10**6)
        out = git(world.root, "diff-tree", "-r", "-z", "--no-renames", "--name-status",
                  world.last_tree, snap.tree).split("\0")  # fmt: skip
        assert sorted(ours or []) == sorted(zip(out[0:-1:2], out[1::2], strict=False))
    world.last_tree = snap.tree


def _snapshot_in_churn(world: World, snap_of: Snap) -> None:
    """A full scan while files come and go: it must not fail. Then the churn is gone."""
    with churn(world.root):
        snap_of(None)
    shutil.rmtree(world.root / "churn")
    world.touched.add("churn")  # what a watch saw: the directory, gone


def _run(root: Path, ops: list[tuple[object, ...]], report_dirs: bool, snap_of: Snap) -> None:
    world = World(root)
    _check_snapshot(world, snap_of, full=True)
    for op in ops:
        if op == ("snapshot", "churn"):
            _snapshot_in_churn(world, snap_of)
        elif op[0] == "snapshot":
            _check_snapshot(world, snap_of, full=op[1] == "full")
        else:
            world.apply(op, report_dirs)
    _check_snapshot(world, snap_of, full=False)
    _check_snapshot(world, snap_of, full=True)


@contextlib.contextmanager
def _repository() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="autocommit-prop-") as tmp:
        root = Path(tmp)
        git(root, "init", "-q", "-b", "main")
        (root / "a.py").write_text("print('a')\n")
        (root / "src").mkdir()
        (root / "src" / "b.txt").write_text("b\n")
        (root / "data").mkdir()
        (root / "data" / "d.py").write_text("d\n")
        (root / ".gitignore").write_text("*.log\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
        yield root


_SETTINGS = {
    "derandomize": os.environ.get("PROP_RANDOM") is None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@settings(max_examples=int(os.environ.get("PROP_EXAMPLES", "30")), **_SETTINGS)  # type: ignore[arg-type]
@given(ops=st.lists(operations, min_size=1, max_size=14), report_dirs=st.booleans(),
       kept=st.booleans())  # fmt: skip
def test_every_snapshot_is_the_exact_working_tree(
    ops: list[tuple[object, ...]], report_dirs: bool, kept: bool
) -> None:
    """In process; ``kept``: with git processes kept between snapshots as the daemon keeps
    them (its full scans also record what the index flags)."""
    with _repository() as root:
        worktree = find_worktree(root)
        pipes = GitPipes(worktree, kept=True) if kept else None
        try:
            _run(root, ops, report_dirs,
                 lambda paths: take_snapshot(worktree, paths, pipes=pipes))  # fmt: skip
        finally:
            if pipes is not None:
                pipes.close()


@settings(max_examples=int(os.environ.get("PROP_DAEMON_EXAMPLES", "6")), **_SETTINGS)  # type: ignore[arg-type]
@given(ops=st.lists(operations, min_size=1, max_size=14))
def test_every_sync_of_the_daemon_is_the_exact_working_tree(
    ops: list[tuple[object, ...]],
) -> None:
    """With a real daemon: every sync answers the exact tree (what it was told is what
    its watch saw, not the paths the test found)."""

    def synced(paths: list[str] | None) -> Snapshot:
        del paths
        snap = client.sync(worktree, timeout=60)
        assert snap is not None, client.status(worktree)["last_error"]
        return snap

    with _repository() as root:
        worktree = enable(root)
        client.start(worktree)
        try:
            _run(root, ops, True, synced)
        finally:
            stop_for_sure(worktree)
