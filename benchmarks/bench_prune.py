"""What ``autocommit prune`` reclaims and what it costs, next to ``git gc --prune=now``.

A repository gets a shadow chain of 310 snapshots (3 files edited per snapshot) with a
run every 30 snapshots, each run pinned as the MLflow plugin pins it: on its run commit
(the snapshot's tree with HEAD as its only parent, :mod:`autocommit.engine.run_commit`), so 10
snapshots follow the last run, as when someone edits on after it. Each measurement works
on a fresh copy of that repository (gc.pruneExpire=now in both):

- ``autocommit prune --older-than 0`` against ``git gc --prune=now``, the command a user
  would reach for: gc repacks but cannot drop snapshots the shadow refs keep alive;
- what prune frees with run commits pinned against the same history pinned the way
  runs were pinned before run commits (on the chain's snapshots, each keeping every
  older snapshot of its chain), as in repositories that still hold such pins.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, file_path, fmt_ms, git, make_repo, ratio, size_label

SNAPSHOTS = 310
RUN_EVERY = 30
REPEAT = 3


def _chain(root: Path, files: int, run_commits: bool) -> None:
    from autocommit.engine.run_commit import run_commit
    from autocommit.engine.snapshot import take_snapshot
    from autocommit.gitio import refs
    from autocommit.gitio.repo import find_worktree
    from autocommit.settings.config import load

    worktree = find_worktree(root)
    settings = load(root)
    rng = random.Random(7)
    for i in range(1, SNAPSHOTS + 1):
        paths = []
        for _ in range(3):
            n = rng.randrange(files)
            rel = file_path(n, files)
            (root / rel).write_text(f"# file {n}\nVALUE = {i}\n" + "x = 1\n" * 40)
            paths.append(rel)
        snap = take_snapshot(worktree, paths, settings)
        if i % RUN_EVERY == 0:
            refs.pin(root, run_commit(worktree, snap) if run_commits else snap.commit)
    git(root, "config", "gc.pruneExpire", "now")


def _objects(root: Path) -> int:
    counts = dict(line.split(": ") for line in git(root, "count-objects", "-v").splitlines())
    return int(counts["count"]) + int(counts["in-pack"])


def _prune(root: Path) -> tuple[float, int, int]:
    from autocommit.gitio.repo import find_worktree
    from autocommit.reproduce.prune import prune

    start = time.perf_counter()
    report = prune(find_worktree(root), time.time())
    return time.perf_counter() - start, report.objects_removed, report.bytes_unreachable


def _gc(root: Path) -> tuple[float, int]:
    before = _objects(root)
    start = time.perf_counter()
    git(root, "gc", "--quiet", "--prune=now")
    return time.perf_counter() - start, before - _objects(root)


def _copy(source: Path, scratch: Path, name: str) -> Path:
    target = scratch / name
    shutil.copytree(source, target, symlinks=True)
    return target


def run(sizes: tuple[int, ...]) -> list[Row]:
    rows: list[Row] = []
    for files in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-prune-") as tmp:
            scratch = Path(tmp)
            run_pins = make_repo(scratch / "runs", files)
            _chain(run_pins, files, run_commits=True)
            chain_pins = make_repo(scratch / "chain", files)
            _chain(chain_pins, files, run_commits=False)
            ours, theirs, freed = [], [], (0, 0)
            gc_freed = 0
            for i in range(REPEAT):
                seconds, removed, size = _prune(_copy(run_pins, scratch, f"p{i}"))
                ours.append(seconds)
                freed = (removed, size)
                seconds, gc_freed = _gc(_copy(run_pins, scratch, f"g{i}"))
                theirs.append(seconds)
            _, chain_removed, chain_size = _prune(_copy(chain_pins, scratch, "c"))
        label = size_label(files)
        rows.append(
            Row(
                f"prune {SNAPSHOTS} snapshots (run every {RUN_EVERY})",
                label,
                fmt_ms(ours, with_p95=False),
                "git gc --prune=now",
                fmt_ms(theirs, with_p95=False),
                ratio(ours, theirs),
                f"prune removed {freed[0]} objects; gc removed {gc_freed} (shadow refs keep "
                "snapshots alive)",
            )
        )
        rows.append(
            Row(
                "objects prune can free",
                label,
                f"{freed[0]} objects ({freed[1] // 1024} KiB), runs pinned on run commits",
                "runs pinned on chain snapshots (before run commits)",
                f"{chain_removed} objects ({chain_size // 1024} KiB)",
                f"{freed[0] / chain_removed:.0f}x more" if chain_removed else "all vs none",
                "a pinned chain snapshot keeps every older snapshot of its chain",
            )
        )
    return rows
