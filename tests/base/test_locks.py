"""autocommit.locks: the one flock helper, on real files and real processes."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

from autocommit import locks


def _held_elsewhere(path: Path) -> int:
    """A second open file description holding ``path`` (a flock conflicts across them,
    even within one process)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    assert locks.acquire(fd, 0)
    return fd


def test_a_free_lock_is_taken_on_a_file_made_0600(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    old = os.umask(0)
    try:
        with locks.held(path, 0) as fd:
            assert fd is not None
            assert locks.is_held(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not locks.is_held(path)  # closing released it


def test_a_held_lock_gives_none_after_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    other = _held_elsewhere(path)
    try:
        started = time.monotonic()
        with locks.held(path, 0.2) as fd:
            assert fd is None
        assert 0.2 <= time.monotonic() - started < 2
    finally:
        os.close(other)
    with locks.held(path, 0) as fd:
        assert fd is not None


def test_the_probe_creates_nothing_and_sees_only_exclusive_holders(tmp_path: Path) -> None:
    path = tmp_path / "daemon.lock"
    assert not locks.is_held(path)
    assert not path.exists()
    other = _held_elsewhere(path)
    assert locks.is_held(path)
    os.close(other)
    assert not locks.is_held(path)


def test_a_child_that_inherited_the_descriptor_keeps_the_lock_after_the_block(
    tmp_path: Path,
) -> None:
    """Released by closing, never by LOCK_UN: a git child started under the snapshot
    lock holds it until it exits (what filelock's release would break)."""
    path = tmp_path / "snapshot.lock"
    with locks.held(path, 0) as fd:
        assert fd is not None
        child = subprocess.Popen(["sleep", "30"], pass_fds=(fd,))
    try:
        assert locks.is_held(path)
        with locks.held(path, 0.1) as again:
            assert again is None
    finally:
        child.kill()
        child.wait()
    with locks.held(path, 0) as again:
        assert again is not None
