"""A repository that cannot be written (a full disk, a read-only object store): a clear
one-line error, nothing of the user's changed, and the next snapshot, once there is room
again, is exact."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.cli import run_cli
from tests.support.engine import drop_root_powers
from tests.support.git import git, user_state
from tests.support.oracle import assert_exact

INCREMENTAL = """
import sys
from autocommit.errors import AutocommitError
from autocommit.gitio.repo import find_worktree
from autocommit.engine.snapshot import take_snapshot
try:
    take_snapshot(find_worktree("."), sys.argv[1:])
except AutocommitError as exc:
    print(exc.one_line(), file=sys.stderr)
    sys.exit(1)
"""


def _assert_clean_failure(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1, done.stderr
    assert "cannot write" in done.stderr and "nothing of yours was changed" in done.stderr


def _shadow(root: Path) -> str:
    return git(root, "rev-parse", "-q", "--verify", "refs/autocommit/heads/main", check=False)


@contextlib.contextmanager
def _read_only(directory: Path) -> Iterator[None]:
    modes = {}
    for dirpath, _, _ in os.walk(directory):
        modes[dirpath] = stat.S_IMODE(os.stat(dirpath).st_mode)
        os.chmod(dirpath, 0o555)
    try:
        yield
    finally:
        for dirpath, mode in modes.items():
            os.chmod(dirpath, mode)


def test_read_only_object_store(repo: Path) -> None:
    prefix = drop_root_powers()
    if prefix is None:
        pytest.skip("cannot deny this user writes (root without setpriv)")
    (repo / "train.py").write_text("lr = 1\n")
    take_snapshot(find_worktree(repo))
    shadow = _shadow(repo)
    (repo / "train.py").write_text("lr = 2\n")
    (repo / "new.py").write_text("new = True\n")
    before = user_state(repo)
    with _read_only(repo / ".git" / "objects"):
        full = subprocess.run([*prefix, sys.executable, "-m", "autocommit", "snapshot"],
                              cwd=repo, capture_output=True, text=True)  # fmt: skip
        incremental = subprocess.run(
            [*prefix, sys.executable, "-c", INCREMENTAL, "train.py", "new.py"],
            cwd=repo, capture_output=True, text=True,
        )  # fmt: skip
    _assert_clean_failure(full)
    _assert_clean_failure(incremental)
    assert user_state(repo) == before and _shadow(repo) == shadow
    assert_exact(repo, take_snapshot(find_worktree(repo), ["train.py", "new.py"]).tree)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (root only)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler.bin"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    with contextlib.suppress(OSError), open(disk / "crumbs", "wb") as handle:
        while True:  # the last few bytes too
            handle.write(b"\0" * 512)
            handle.flush()
    return filler


def test_full_disk(small_disk: Path) -> None:
    root = small_disk / "repo"
    root.mkdir()
    git(root, "init", "-q")
    for i in range(20):
        (root / f"m{i}.py").write_text(f"m = {i}\n" * 50)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    (root / "train.py").write_text("lr = 1\n")
    worktree = find_worktree(root)
    take_snapshot(worktree)
    shadow = _shadow(root)
    (root / "train.py").write_text("lr = 2 " * 500 + "\n")
    (root / "big.py").write_text("x = 1\n" * 20000)
    filler = _fill(small_disk)
    before = user_state(root)
    for args in (["snapshot"], ["-C", ".", "snapshot", "--json"]):
        _assert_clean_failure(run_cli(root, *args))
    _assert_clean_failure(
        subprocess.run(
            [sys.executable, "-c", INCREMENTAL, "train.py", "big.py"],
            cwd=root,
            capture_output=True,
            text=True,
        )
    )
    assert user_state(root) == before and _shadow(root) == shadow
    filler.unlink()
    (small_disk / "crumbs").unlink()
    done = run_cli(root, "snapshot")
    assert done.returncode == 0, done.stderr
    assert_exact(root, done.stdout.strip())
    git(root, "fsck", "--no-progress")
