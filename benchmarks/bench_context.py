"""What a run's context (``autocommit.context``) adds to ``mlflow.start_run``.

Side by side in one process, runs interleaved: ``start_run`` with the plugin and a context
part on, against the same with every context part off (``AUTOCOMMIT_CONTEXT_*=false``,
read afresh at every run). Before every run one file is edited, so every run gets a new
run commit and a new context commit (the expensive case: its objects are written). The
data fingerprints are timed on their own too: 200 files of 2 GB in all (sparse files, so
that the benchmark fits any disk; the hash reads every byte all the same), after a first
run has cached their hashes, and with one 1 GB file changed, which is re-hashed once.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.bench_mlflow import _Editor, _time_start_run
from benchmarks.common import Row, git, make_repo, median_ms, p95_ms

PARTS = ("environment", "session", "dependencies", "data")
REPEAT = 30
DATA_FILES = 200
BIG = 1024**3  # one file of 1 GiB, the rest share the other GiB


@contextlib.contextmanager
def _context(*on: str) -> Iterator[None]:
    """Only the context parts ``on`` turned on, through the environment."""
    names = [f"AUTOCOMMIT_CONTEXT_{part.upper()}" for part in PARTS]
    kept = {name: os.environ.get(name) for name in names}
    for part, name in zip(PARTS, names, strict=True):
        os.environ[name] = "true" if part in on else "false"
    try:
        yield
    finally:
        for name, value in kept.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_CASES = (  # the parts on, the parts on in the baseline, what the figure answers
    (("data",), (), "writing a context commit (data_paths match nothing here)"),
    (("environment", "data"), ("data",), "environment.txt; target <= 5 ms"),
    (PARTS, (), "the whole context (not in a notebook: no session.py)"),
)


def _start_run_rows(root: Path) -> list[Row]:
    edit = _Editor(root)
    sys.argv[0] = str(edit.path)
    rows: list[Row] = []
    for parts, baseline, note in _CASES:
        with_part: list[float] = []
        without: list[float] = []
        with _context(*parts):
            _time_start_run(edit, True)  # the first run of the process reads the environment
        for _ in range(REPEAT):
            with _context(*parts):
                with_part.append(_time_start_run(edit, True))
            with _context(*baseline):
                without.append(_time_start_run(edit, True))
        overhead = max(0.0, statistics.median(with_part) - statistics.median(without))
        rows.append(Row(f"start_run, context: {' + '.join(parts)}", "1k files",
                        f"{overhead * 1000:.1f} ms added (start_run {median_ms(with_part):.1f},"
                        f" p95 {p95_ms(with_part):.1f})",
                        f"context: {' + '.join(baseline) or 'off'}",
                        f"{median_ms(without):.1f} ms", "-",
                        f"{note}; a file edited before each run: every run writes a new "
                        "context commit, in a process that made runs before"))  # fmt: skip
    return rows


def _environment_row() -> Row:
    from autocommit.tracking.environment import _compute, environment_text

    environment_text()
    cached = [_timed(environment_text) for _ in range(200)]
    fresh = [_timed(_compute) for _ in range(10)]
    return Row("environment.txt, nothing installed since", "this venv",
               f"{median_ms(cached):.2f} ms",
               "reading every distribution's metadata", f"{median_ms(fresh):.1f} ms",
               f"{statistics.median(fresh) / statistics.median(cached):.0f}x less",
               "stat of sys.path and the metadata directories")  # fmt: skip


def _timed(action: object) -> float:
    assert callable(action)
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _sparse(path: Path, size: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.truncate(size)
        file.write(f"file {seed}\n".encode())  # distinct content: distinct blob ids


def _data_rows(scratch: Path) -> list[Row]:
    from autocommit.gitio.repo import find_worktree
    from autocommit.settings.config import Settings
    from autocommit.tracking.data_files import data_json

    root = make_repo(scratch / "data-repo", 100)
    small = (2 * 1024**3 - BIG) // (DATA_FILES - 1)
    for n in range(DATA_FILES - 1):
        _sparse(root / "data" / f"part{n:03d}.bin", small, n)
    _sparse(root / "data" / "big.bin", BIG, -1)
    past = time.time() - 3600
    for path in (root / "data").iterdir():
        os.utime(path, (past, past))  # settled files: their hashes are cached
    worktree, settings = find_worktree(root), Settings(enabled=True)
    like = git(root, "rev-parse", "HEAD").strip()
    first = _timed(lambda: data_json(worktree, settings, like))
    again = [_timed(lambda: data_json(worktree, settings, like)) for _ in range(30)]
    walk_only = [_timed(lambda: data_json(worktree, Settings(data_paths=()), like))
                 for _ in range(30)]  # fmt: skip
    with open(root / "data" / "big.bin", "r+b") as file:
        file.seek(BIG // 2)
        file.write(b"changed")
    os.utime(root / "data" / "big.bin", (past + 1, past + 1))
    rehash = _timed(lambda: data_json(worktree, settings, like))
    after = _timed(lambda: data_json(worktree, settings, like))
    return [
        Row("data.json, nothing changed since the last run", "200 files, 2 GiB",
            f"{median_ms(again):.1f} ms (p95 {p95_ms(again):.1f})",
            "the same walk, no data_paths", f"{median_ms(walk_only):.1f} ms", "-",
            f"target <= 10 ms; the first run hashed all in {first:.1f} s"),
        Row("data.json, one 1 GiB file changed", "200 files, 2 GiB", f"{rehash * 1000:.0f} ms",
            "the next run", f"{after * 1000:.1f} ms", "-",
            "re-hashed once (SHA-1 of every byte), cached after"),
    ]  # fmt: skip


def run(sizes: tuple[int, ...]) -> list[Row]:
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="autocommit-bench-context-") as tmp:
        scratch = Path(tmp)
        try:
            root = make_repo(scratch / "repo", 1000)
            git(root, "config", "autocommit.enabled", "true")
            time.sleep(1.1)  # settings a second old: read from the plugin's cache
            os.chdir(root)
            mlflow.set_tracking_uri(f"sqlite:///{scratch / 'mlflow.db'}")
            mlflow.set_experiment("bench-context")
            rows = _start_run_rows(root)
            rows.append(_environment_row())
            rows += _data_rows(scratch)
        finally:
            os.chdir(cwd)
    return rows


if __name__ == "__main__":
    for row in run(()):
        print(row)
