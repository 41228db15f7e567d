"""The snapshot engine next to the naive design, on the same synthetic repository.

Naive design: copy ``.git/index`` to a temporary file, ``git add -A`` into it,
``write-tree``, ``commit-tree``, ``update-ref``. The engine: an incremental snapshot
told which file changed, with git processes kept between snapshots (what the daemon
does), and a full scan (``paths=None``, what a snapshot without the daemon does).
Rounds alternate engine and naive, each after a fresh one-file change, so both see the
same machine load.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from autocommit.engine.kept_processes import GitPipes
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from autocommit.settings import config
from benchmarks.common import Row, bench_repo, file_path, fmt_ms, ratio, size_label

NAIVE = "naive: copy index + add -A + write-tree + commit-tree + update-ref"


def _repeats(files: int) -> tuple[int, int]:
    """(one-change rounds, full-scan rounds) for a repository size."""
    return (30, 10) if files <= 10000 else (20, 5)


def _git(root: Path, *args: str, env: dict[str, str] | None = None, input: bytes = b"") -> str:
    return subprocess.run(
        ["git", *args], cwd=root, env=env, input=input, capture_output=True, check=True
    ).stdout.decode()


def naive_snapshot(root: Path) -> str:
    """Snapshot the way a first attempt would: a full ``git add -A`` into a copied index."""
    with tempfile.TemporaryDirectory(prefix="naive-") as tmp:
        index = Path(tmp) / "index"
        shutil.copyfile(root / ".git" / "index", index)
        env = {**os.environ, "GIT_INDEX_FILE": str(index)}
        _git(root, "add", "-A", env=env)
        tree = _git(root, "write-tree", env=env).strip()
    parent = subprocess.run(["git", "rev-parse", "-q", "--verify", "refs/naive/snapshot"],
                            cwd=root, capture_output=True).stdout.decode().strip()  # fmt: skip
    commit = _git(root, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", "naive")
    _git(root, "update-ref", "refs/naive/snapshot", commit.strip())
    return commit.strip()


def _alternate(
    root: Path,
    changed: str,
    rounds: int,
    ours: Callable[[], object],
    theirs: Callable[[], object],
) -> tuple[list[float], list[float]]:
    """Time ``ours`` and ``theirs`` in turns, each right after a one-file change."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(rounds + 1):  # the first round warms up
        for action, bucket in ((ours, times[0]), (theirs, times[1])):
            (root / changed).write_text(f"# changed\nVALUE = {i} {id(bucket)}\n")
            start = time.perf_counter()
            action()
            if i:
                bucket.append(time.perf_counter() - start)
    return times


def _fresh_process(root: Path) -> None:
    """``autocommit snapshot`` as a user or a script runs it: a new process, its modules
    compiled once (as ``pip install`` does; the warm-up round writes them)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([AUTOCOMMIT, "snapshot"], cwd=root, env=env, check=True,
                   capture_output=True)  # fmt: skip


AUTOCOMMIT = str(Path(sys.executable).with_name("autocommit"))  # the console script


def measure(files: int) -> dict[str, list[float]]:
    one_change_rounds, full_rounds = _repeats(files)
    changed = file_path(1, files)
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        root = bench_repo(Path(tmp) / "repo", files)
        worktree = find_worktree(root)
        settings = config.load(root)  # loaded once, as the daemon does
        take_snapshot(worktree, settings=settings)
        with contextlib.closing(GitPipes(worktree, kept=True)) as pipes:
            incremental, naive = _alternate(
                root,
                changed,
                one_change_rounds,
                lambda: take_snapshot(worktree, [changed], settings, pipes=pipes),
                lambda: naive_snapshot(root),
            )
        full, naive_full = _alternate(
            root,
            changed,
            full_rounds,
            lambda: take_snapshot(worktree, None, settings),
            lambda: naive_snapshot(root),
        )
        fresh, naive_fresh = _alternate(
            root, changed, full_rounds, lambda: _fresh_process(root), lambda: naive_snapshot(root)
        )
    return {"incremental": incremental, "naive": naive, "full": full, "naive_full": naive_full,
            "fresh": fresh, "naive_fresh": naive_fresh}  # fmt: skip


def _of_naive(t: dict[str, list[float]], key: str) -> str:
    return f"{statistics.median(t[key]) / statistics.median(t['naive_' + key]):.2f}x naive"


def run(sizes: tuple[int, ...]) -> list[Row]:
    rows = []
    for files in sizes:
        t = measure(files)
        size = size_label(files)
        rows += [
            Row("one-file-change snapshot (paths given)", size, fmt_ms(t["incremental"]),
                NAIVE, fmt_ms(t["naive"]), ratio(t["incremental"], t["naive"]),
                "what the daemon does per change"),
            Row("full-scan snapshot (no paths)", size, fmt_ms(t["full"]),
                NAIVE, fmt_ms(t["naive_full"]), ratio(t["full"], t["naive_full"]),
                f"without the daemon, and after git operations; {_of_naive(t, 'full')}, "
                "target <= 0.5x"),
            Row("`autocommit snapshot`, a fresh process", size, fmt_ms(t["fresh"]),
                NAIVE, fmt_ms(t["naive_fresh"]), ratio(t["fresh"], t["naive_fresh"]),
                f"imports, settings and a full scan; {_of_naive(t, 'fresh')}, target <= 0.6x"),
        ]  # fmt: skip
    return rows


if __name__ == "__main__":
    from benchmarks.common import sizes_from_env

    for row in run(sizes_from_env((10000,))):
        print(row)
