"""Shared pieces of the benchmarks: synthetic repositories, timing, result rows."""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
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


FILES_PER_DIR = 20  # a lived-in layout: 1M files in 50k directories


def file_path(i: int, files: int) -> str:
    """Where :func:`make_repo` puts file ``i`` of ``files``: round robin over
    ``files / FILES_PER_DIR`` directories, two levels deep (file 0 is in ``pkg0/mod0``,
    file 1 in ``pkg1/mod0``, whatever the size)."""
    dirs = max(1, -(-files // FILES_PER_DIR))
    top = max(1, math.isqrt(dirs - 1) + 1)  # the first level: about sqrt(dirs) folders
    d = i % dirs
    return f"pkg{d % top}/mod{d // top}/file{i}.py"


def make_repo(root: Path, files: int) -> Path:
    """A committed, packed repository of ``files`` small Python files, 20 per directory.

    The commit is written by ``git fast-import`` (one pack, no loose objects, no
    background ``gc --auto``) and checked out by ``git reset --hard``, which writes the
    files and an index with their stat data, as a lived-in repository has.
    """
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    git(root, "config", "user.name", "bench")
    git(root, "config", "user.email", "bench@example.com")
    branch = git(root, "symbolic-ref", "HEAD").strip()
    with subprocess.Popen(["git", "fast-import", "--quiet"], cwd=root, stdin=subprocess.PIPE,
                          stdout=subprocess.DEVNULL) as proc:  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(_fast_import_stream(files, branch))
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError("git fast-import failed")
    git(root, "reset", "-q", "--hard")
    git(root, "status", "--porcelain")  # refresh the index stat data, as a user's git would
    return root


def _fast_import_stream(files: int, branch: str) -> bytes:
    """One commit of ``files`` files for ``git fast-import`` (blobs inline)."""
    lines = [f"commit {branch}\ncommitter bench <bench@example.com> 1700000000 +0000\n"
             f"data {len(f'{files} files')}\n{files} files\n"]  # fmt: skip
    for i in range(files):
        content = f"# file {i}\nVALUE = {i}\n"
        lines.append(f"M 100644 inline {file_path(i, files)}\ndata {len(content)}\n{content}\n")
    return "".join(lines).encode()


HUGE = 1_000_000  # from this size on, repositories are kept between runs (--huge)


def bench_repo(scratch: Path, files: int) -> Path:
    """A repository of ``files`` files: made in ``scratch``, or kept between runs at
    :data:`HUGE` files and more (see :func:`cached_repo`)."""
    return cached_repo(files) if files >= HUGE else make_repo(scratch, files)


def cached_repo(files: int) -> Path:
    """A repository of :func:`make_repo`'s layout kept under the system temp dir between
    benchmark runs (a million files take minutes to create), put back to its committed
    state: autocommit's refs, state and settings removed, changed files restored.
    Prints how long creating it took, the first time."""
    root = Path(tempfile.gettempdir()) / f"autocommit-bench-{files}-files"
    done = root / ".git" / "bench-complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        began = time.perf_counter()
        make_repo(root, files)
        done.write_text(f"{time.perf_counter() - began:.0f}\n")
        print(f"created {root} in {done.read_text().strip()} s", file=sys.stderr, flush=True)
        return root
    for ref in git(root, "for-each-ref", "--format=%(refname)", "refs/autocommit/").split():
        git(root, "update-ref", "-d", ref)
    shutil.rmtree(root / ".git" / "autocommit", ignore_errors=True)
    subprocess.run(["git", "config", "--remove-section", "autocommit"], cwd=root,
                   capture_output=True)  # fmt: skip
    git(root, "reset", "-q", "--hard")
    git(root, "clean", "-fdq")
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
    if files >= 1_000_000 and files % 1_000_000 == 0:
        return f"{files // 1_000_000}M files"
    return f"{files // 1000}k files" if files >= 1000 else f"{files} files"
