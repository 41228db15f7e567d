"""The lock helper (``autocommit.locks``, plain ``fcntl.flock``) next to ``filelock``.

The snapshot lock is taken and released on every MLflow run and every daemon batch, so
its cost is on the hot path. Each round takes and releases a free lock once with each,
alternately, on the same file in a private directory: ``locks.held`` (open, flock,
close) against ``filelock.UnixFileLock`` (a new lock object each time, as a per-call
lock would be, and one reused object), both with a timeout and mode 0600. The import
cost of ``filelock`` and of ``autocommit.locks`` is measured in fresh interpreters.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import filelock

from autocommit import locks
from benchmarks.common import Row, fmt_ms, ratio

ROUNDS = 5000
IMPORT_ROUNDS = 15


def _ours(path: Path) -> None:
    with locks.held(path, 1.0) as fd:
        assert fd is not None


def _filelock_new(path: Path) -> None:
    with filelock.UnixFileLock(path, timeout=1.0, mode=0o600, preserve_lock_file=True):
        pass


def _alternately(actions: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in actions}
    for action in actions.values():
        action()  # warm up
    for _ in range(rounds):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
    return times


def _import_seconds(module: str) -> list[float]:
    code = f"import time; s = time.perf_counter(); import {module}; print(time.perf_counter() - s)"
    return [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(IMPORT_ROUNDS)
    ]


def _us(times: list[float]) -> str:
    ordered = sorted(times)
    median = ordered[len(ordered) // 2] * 1e6
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1e6
    return f"{median:.1f} µs (p95 {p95:.1f})"


def run(sizes: tuple[int, ...]) -> list[Row]:
    del sizes  # a lock costs the same whatever the repository
    with tempfile.TemporaryDirectory(prefix="autocommit-bench-locks-") as tmp:
        path = Path(tmp) / "snapshot.lock"
        reused = filelock.UnixFileLock(path, timeout=1.0, mode=0o600, preserve_lock_file=True)

        def filelock_reused() -> None:
            with reused:
                pass

        times = _alternately(
            {
                "ours": lambda: _ours(path),
                "new": lambda: _filelock_new(path),
                "reused": filelock_reused,
            },
            ROUNDS,
        )
    imports = _import_seconds("filelock")
    baseline_imports = _import_seconds("autocommit.locks")
    return [
        Row("take and release a free lock", "-", _us(times["ours"]),
            "filelock.UnixFileLock, a new object per lock", _us(times["new"]),
            ratio(times["ours"], times["new"]), f"{ROUNDS} rounds, alternately"),
        Row("take and release a free lock", "-", _us(times["ours"]),
            "filelock.UnixFileLock, one object reused", _us(times["reused"]),
            ratio(times["ours"], times["reused"]), f"{ROUNDS} rounds, alternately"),
        Row("import", "-", fmt_ms(baseline_imports) + " (autocommit.locks)", "import filelock",
            fmt_ms(imports), ratio(baseline_imports, imports),
            f"fresh interpreters, {IMPORT_ROUNDS} each"),
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run(()):
        print(row)
