"""Shared pieces of the benchmarks: synthetic repositories, timing, result rows."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    """One line of the results table: a figure for autocommit next to its baseline."""

    benchmark: str  # what is measured, e.g. "one-file snapshot"
    size: str  # e.g. "10k files"
    autocommit: str  # e.g. "12.1 ms (p95 15.0)"
    baseline_name: str  # e.g. "naive: copy index + add -A + write-tree + commit-tree"
    baseline: str
    ratio: str  # how many times better autocommit is, e.g. "8.3x faster"
    note: str = ""


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, input=input, capture_output=True, check=True
    ).stdout.decode()


def make_repo(root: Path, files: int, *, dirs_per_level: int = 30) -> Path:
    """A committed, packed repository of ``files`` small Python files in a two-level tree.

    The commit starts no background ``gc --auto`` (it would run during the measurements
    that follow); the repository is packed in the foreground instead, as a lived-in one is.
    """
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    git(root, "config", "user.name", "bench")
    git(root, "config", "user.email", "bench@example.com")
    for i in range(files):
        rel = f"pkg{i % dirs_per_level}/mod{(i // dirs_per_level) % dirs_per_level}/file{i}.py"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# file {i}\nVALUE = {i}\n")
    git(root, "add", "-A")
    git(root, "-c", "gc.auto=0", "commit", "-q", "-m", f"{files} files")
    git(root, "gc", "-q")
    git(root, "status", "--porcelain")  # refresh the index stat data, as a user's git would
    return root


def measure(action: Callable[[], object], repeat: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls (after ``warmup`` untimed calls)."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def p95_ms(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


def fmt_ms(times: list[float], with_p95: bool = True) -> str:
    text = f"{median_ms(times):.1f} ms"
    return f"{text} (p95 {p95_ms(times):.1f})" if with_p95 else text


def ratio(ours: list[float], baseline: list[float]) -> str:
    """``8.3x faster`` / ``1.2x slower``, from medians."""
    factor = statistics.median(baseline) / statistics.median(ours)
    return f"{factor:.1f}x faster" if factor >= 1 else f"{1 / factor:.1f}x slower"


def sizes_from_env(default: tuple[int, ...]) -> tuple[int, ...]:
    """``AUTOCOMMIT_BENCH_SIZES=1000,10000,100000`` overrides the default sizes."""
    raw = os.environ.get("AUTOCOMMIT_BENCH_SIZES")
    return tuple(int(s) for s in raw.split(",")) if raw else default


def size_label(files: int) -> str:
    return f"{files // 1000}k files" if files >= 1000 else f"{files} files"
