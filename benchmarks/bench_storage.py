"""The repository after a long session without user commits, next to a naive baseline.

A 10k-file repository (the largest size asked for, at most 10k) gets ``SAVES`` saves
(1,000 by default, about a working day at one save every 30 s;
``AUTOCOMMIT_BENCH_SAVES=10000`` for the full session): each save rewrites one line of
one of 40 files of realistic size (4-12 KiB), a run every 50 saves. The same saves go
through three repositories, each a copy of the same start:

- autocommit: one incremental snapshot per save (what the daemon does), the run
  commit pinned every 50 saves, and the loose objects packed whenever they pass the
  bound (what the daemon does at its next idle moment, :mod:`autocommit.engine.maintenance`);
- baseline: ``git add -A`` into a throwaway index, ``git commit-tree``, ``update-ref
  refs/heads/throwaway`` and ``git gc --auto``, which is what ``git add -A && git
  commit`` into a throwaway branch amounts to (``gc --auto`` is what a commit runs);
- plain: the saves alone, no snapshots (for the user's next commit).

At the end: ``.git`` size (growth over the start), loose objects (and the peak during
the session), ``git status`` time, and the user's next ``git commit -a`` (with
``gc.autoDetach=false`` so that an auto gc it starts is inside the figure).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import Row, file_path, fmt_ms, git, make_repo, size_label

RUN_EVERY = 50
WORKING_SET = 40
DEFAULT_SAVES = 1000
COMMIT_REPEAT = 5
STATUS_REPEAT = 9


def _saves() -> int:
    return int(os.environ.get("AUTOCOMMIT_BENCH_SAVES", DEFAULT_SAVES))


@dataclass
class Outcome:
    git_bytes: int
    loose: int
    peak_loose: int
    packs: int
    session_seconds: float
    status: list[float]
    next_commit: float
    packings: int = 0


def _working_set(root: Path, files: int) -> list[str]:
    """40 files of 4-12 KiB, committed: what the session edits."""
    rng = random.Random(3)
    chosen = [file_path(n, files) for n in rng.sample(range(files), WORKING_SET)]
    for rel in chosen:
        lines = [f"def step_{i}(x):\n    return x * {i} + {rng.random():.6f}\n"
                 for i in range(rng.randrange(60, 180))]  # fmt: skip
        (root / rel).write_text("".join(lines))
    git(root, "add", "-A")
    git(root, "-c", "gc.auto=0", "commit", "-q", "-m", "working set")
    git(root, "gc", "-q")
    git(root, "config", "gc.autoDetach", "false")
    return chosen


def _save(root: Path, chosen: list[str], rng: random.Random, i: int) -> str:
    """Rewrite one line of one file, as an editor's save does."""
    rel = rng.choice(chosen)
    path = root / rel
    lines = path.read_text().splitlines(keepends=True)
    at = rng.randrange(len(lines))
    lines[at] = f"    return x * {i} + {rng.random():.6f}  # save {i}\n"
    path.write_text("".join(lines))
    return rel


def _git_bytes(root: Path) -> int:
    return sum(
        (Path(d) / n).lstat().st_size for d, _, names in os.walk(root / ".git") for n in names
    )


def _finish(root: Path, outcome: Outcome) -> Outcome:
    """The storage figures; the timings come later, for all three repositories at once."""
    from autocommit.gitio import object_store

    outcome.git_bytes = _git_bytes(root)
    outcome.loose = object_store.loose_count(root / ".git" / "objects")
    outcome.packs = len(list((root / ".git" / "objects" / "pack").glob("*.pack")))
    return outcome


def _time_the_user(roots: dict[str, Path], outcomes: dict[str, Outcome]) -> None:
    """``git status`` and the next ``git commit -a`` in each repository, interleaved
    (round-robin) so that load from elsewhere on the machine spreads over all three."""
    for root in roots.values():
        git(root, "status", "--porcelain")  # warm up
    for _ in range(STATUS_REPEAT):
        for name, root in roots.items():
            start = time.perf_counter()
            git(root, "status", "--porcelain")
            outcomes[name].status.append(time.perf_counter() - start)
    commits: dict[str, list[float]] = {name: [] for name in roots}
    for i in range(COMMIT_REPEAT):  # each on a copy of the repository as the session left it
        for name, root in roots.items():
            copy = root.with_name(f"{root.name}-commit{i}")
            shutil.copytree(root, copy, symlinks=True)
            git(copy, "status", "--porcelain")  # as warm as the original
            start = time.perf_counter()
            git(copy, "commit", "-q", "-a", "-m", "the user's next commit")
            commits[name].append(time.perf_counter() - start)
            shutil.rmtree(copy)
    for name, times in commits.items():
        outcomes[name].next_commit = statistics.median(times)


def _autocommit_session(root: Path, chosen: list[str], saves: int) -> Outcome:
    from autocommit.engine import maintenance
    from autocommit.engine.kept_processes import GitPipes
    from autocommit.engine.run_commit import run_commit
    from autocommit.engine.snapshot import take_snapshot
    from autocommit.gitio import object_store, refs
    from autocommit.gitio.repo import find_worktree
    from autocommit.settings.config import load

    worktree, settings = find_worktree(root), load(root)
    rng = random.Random(11)
    outcome = Outcome(0, 0, 0, 0, 0.0, [], 0.0)
    objects = root / ".git" / "objects"
    pipes = GitPipes(worktree, kept=True)
    take_snapshot(worktree, None, settings, pipes=pipes)
    start = time.perf_counter()
    for i in range(1, saves + 1):
        snap = take_snapshot(worktree, [_save(root, chosen, rng, i)], settings, pipes=pipes)
        if i % RUN_EVERY == 0:
            refs.pin(root, run_commit(worktree, snap))
            outcome.peak_loose = max(outcome.peak_loose, object_store.loose_count(objects))
        if maintenance.over_limit(worktree):  # the daemon packs at its next idle moment
            outcome.peak_loose = max(outcome.peak_loose, object_store.loose_count(objects))
            maintenance.pack_loose_objects(worktree)
            outcome.packings += 1
    outcome.session_seconds = time.perf_counter() - start
    pipes.close()
    return _finish(root, outcome)


def _baseline_session(root: Path, chosen: list[str], saves: int) -> Outcome:
    from autocommit.gitio import object_store

    index = root / ".git" / "throwaway-index"
    shutil.copyfile(root / ".git" / "index", index)
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    rng = random.Random(11)
    outcome = Outcome(0, 0, 0, 0, 0.0, [], 0.0)
    parent = git(root, "rev-parse", "HEAD").strip()
    start = time.perf_counter()
    for i in range(1, saves + 1):
        _save(root, chosen, rng, i)
        _git_env(root, env, "add", "-A")
        tree = _git_env(root, env, "write-tree").strip()
        parent = _git_env(root, env, "commit-tree", tree, "-p", parent, "-m", f"save {i}").strip()
        git(root, "update-ref", "refs/heads/throwaway", parent)
        git(root, "gc", "--auto", "--quiet")
        if i % RUN_EVERY == 0:
            objects = root / ".git" / "objects"
            outcome.peak_loose = max(outcome.peak_loose, object_store.loose_count(objects))
    outcome.session_seconds = time.perf_counter() - start
    return _finish(root, outcome)


def _plain_session(root: Path, chosen: list[str], saves: int) -> Outcome:
    rng = random.Random(11)
    start = time.perf_counter()
    for i in range(1, saves + 1):
        _save(root, chosen, rng, i)
    return _finish(root, Outcome(0, 0, 0, 0, time.perf_counter() - start, [], 0.0))


def _git_env(root: Path, env: dict[str, str], *args: str) -> str:
    import subprocess

    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True,
                          check=True).stdout.decode()  # fmt: skip


def _mib(n: int) -> str:
    return f"{n / 1024**2:.1f} MiB"


def run(sizes: tuple[int, ...]) -> list[Row]:
    files = max([s for s in sizes if s <= 10000], default=min(sizes))
    saves = _saves()
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        scratch = Path(tmp)
        start = make_repo(scratch / "start", files)
        chosen = _working_set(start, files)
        start_bytes = _git_bytes(start)
        copies = {name: scratch / name for name in ("ours", "baseline", "plain")}
        for target in copies.values():
            shutil.copytree(start, target, symlinks=True)
        git(copies["ours"], "config", "autocommit.enabled", "true")
        outcomes = {
            "ours": _autocommit_session(copies["ours"], chosen, saves),
            "baseline": _baseline_session(copies["baseline"], chosen, saves),
            "plain": _plain_session(copies["plain"], chosen, saves),
        }
        _time_the_user(copies, outcomes)
    return _rows(files, saves, start_bytes, outcomes["ours"], outcomes["baseline"],
                 outcomes["plain"])  # fmt: skip


def _rows(files: int, saves: int, start_bytes: int, ours: Outcome, base: Outcome,
          plain: Outcome) -> list[Row]:  # fmt: skip
    from autocommit.engine.maintenance import LOOSE_LIMIT

    label = f"{size_label(files)}, {saves} saves"
    baseline = "add -A + commit into a throwaway branch (+ gc --auto)"
    grown, base_grown = ours.git_bytes - start_bytes, base.git_bytes - start_bytes
    return [
        Row("long session: .git growth", label,
            f"{_mib(grown)} (.git {_mib(ours.git_bytes)})", baseline,
            f"{_mib(base_grown)} (.git {_mib(base.git_bytes)})",
            f"{grown / base_grown:.2f}x of baseline",
            f"target <= 1.5x; a run every {RUN_EVERY} saves, each pinned"),
        Row("long session: loose objects at the end (peak)", label,
            f"{ours.loose} ({ours.peak_loose})", baseline, f"{base.loose} ({base.peak_loose})",
            "-", f"bound {LOOSE_LIMIT}; packed {ours.packings} times"),
        Row("long session: time per save", label,
            f"{1000 * ours.session_seconds / saves:.1f} ms", baseline,
            f"{1000 * base.session_seconds / saves:.1f} ms",
            f"{base.session_seconds / ours.session_seconds:.1f}x faster",
            "snapshot (+ run pin, + packing when due) vs add -A + commit"),
        Row("git status at the end", label, fmt_ms(ours.status, with_p95=False), baseline,
            fmt_ms(base.status, with_p95=False),
            f"without autocommit {fmt_ms(plain.status, with_p95=False)}",
            f"median of {STATUS_REPEAT}, interleaved"),
        Row("the user's next git commit -a", label, f"{1000 * ours.next_commit:.0f} ms",
            baseline, f"{1000 * base.next_commit:.0f} ms",
            f"without autocommit {1000 * plain.next_commit:.0f} ms",
            f"median of {COMMIT_REPEAT} copies; gc.autoDetach=false: an auto gc counts"),
    ]  # fmt: skip
