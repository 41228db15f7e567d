"""Helpers for the engine tests: snapshots in a row, a file-churning process, the real
command line, a root without the power to read files."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.git import git


def snapshots(root: Path, count: int, tag: str) -> list[str]:
    """``count`` edits, each snapshotted (incrementally, as the daemon does): the commits."""
    worktree = find_worktree(root)
    made = []
    for i in range(count):
        (root / "data.txt").write_text(f"{tag} {i}\n" + "x" * 200)
        made.append(take_snapshot(worktree, ["data.txt"]).commit)
    return made


CHURN_FILES = 40


_CHURN = """
import os, sys
n = 0
while True:
    for k in range(2):
        path = "churn/c%d.txt" % ((n + k * CHURN // 2) % CHURN)
        try:
            if k == 0:
                with open(path, "w") as handle:
                    handle.write("%d\\n" % n)
            else:
                os.unlink(path)
        except OSError:
            pass
    n += 1
""".replace("CHURN", str(CHURN_FILES))


@contextlib.contextmanager
def churn(root: Path) -> Iterator[None]:
    """Another process creating and deleting files in ``churn/`` as fast as it can."""
    (root / "churn").mkdir(exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", _CHURN], cwd=root)
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def drop_root_powers() -> list[str] | None:
    """A command prefix running as root without the power to read any file, or None."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0:
        return []  # an ordinary user cannot read a chmod 000 file anyway
    if setpriv is None:
        return None
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    with tempfile.NamedTemporaryFile() as locked:
        os.chmod(locked.name, 0)
        probe = subprocess.run([*prefix, "cat", locked.name], capture_output=True)
    return prefix if probe.returncode != 0 and b"Permission denied" in probe.stderr else None


def sparse_repo(root: Path, sparse_index: bool = False) -> Path:
    """A committed repository with ``app/`` and ``data/``, sparse on ``app`` (cone mode):
    ``data/f1.txt``… are tracked, skip-worktree, absent from the working tree."""
    root.mkdir()
    git(root, "init", "-q")
    (root / "app").mkdir()
    (root / "app" / "main.py").write_text("main\n")
    (root / "data").mkdir()
    for i in (1, 2, 3):
        (root / "data" / f"f{i}.txt").write_text(f"{i}\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    index = ["--sparse-index"] if sparse_index else []  # directories as index entries
    git(root, "sparse-checkout", "set", "--cone", *index, "app")
    git(root, "config", "autocommit.enabled", "true")
    assert not (root / "data").exists()
    return root
