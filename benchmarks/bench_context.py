"""What a run's context (``autocommit.context``) adds to ``mlflow.start_run``.

Side by side in one process, runs interleaved: ``start_run`` with the plugin and a context
part on, against the same with every context part off (``AUTOCOMMIT_CONTEXT_*=false``,
read afresh at every run). Before every run one file is edited, so every run gets a new
run commit and a new context commit (the expensive case: its objects are written).

Each part is timed on its own too:
- ``context_files()`` (every part's text, before the commit is written) in a process
  that made a run before, against the same call in a fresh process's first run;
- ``dependencies.json`` with two small dependencies (one enabled, without a daemon;
  one not), described from their unchanged stamp against described anew;
- ``data.json`` over 200 real files of 2 GiB in all (written to the temporary
  directory, deleted after): the first runs, each within its hashing budget, against
  ``git hash-object`` of every file; a run once all are hashed; one 1 GiB file changed,
  against ``git hash-object`` of that file.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.bench_mlflow import _Editor, _time_start_run
from benchmarks.common import (
    HUGE,
    Row,
    bench_repo,
    fmt_ms,
    git,
    make_repo,
    measure,
    median_ms,
    p95_ms,
    ratio,
    size_label,
)

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
        if "dependencies" in parts:
            note += f" ({_dependencies_note(root)})"
        rows.append(Row(f"start_run, context: {' + '.join(parts)}", "1k files",
                        f"{overhead * 1000:.1f} ms added (start_run {median_ms(with_part):.1f},"
                        f" p95 {p95_ms(with_part):.1f})",
                        f"context: {' + '.join(baseline) or 'off'}",
                        f"{median_ms(without):.1f} ms", "-",
                        f"{note}; a file edited before each run: every run writes a new "
                        "context commit, in a process that made runs before"))  # fmt: skip
    return rows


def _dependencies_note(root: Path) -> str:
    """Which dependencies this process has, and how a later run sees them unchanged."""
    from autocommit.tracking import dependencies
    from autocommit.tracking.tree_stamp import too_large

    described = []
    for path in [Path(d["path"]) for d in json.loads(dependencies.dependencies_json(root))]:
        watch = dependencies._watches.get(path)
        how = ("watched" if watch is not None and watch.current() else
               "git status at every run" if too_large(path) else "a stat walk")  # fmt: skip
        described.append(f"{path} ({how})")
    return "dependencies: " + ("; ".join(described) or "none")


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


_CHILD = """
import json, sys, time
from pathlib import Path
from autocommit.gitio.repo import find_worktree
from autocommit.settings.config import load
from autocommit.tracking import context, data_files, dependencies, environment

root, head, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
worktree, settings = find_worktree(root), load(root)
part = {
    "environment.txt": environment.environment_text,
    "data.json": lambda: data_files.data_json(worktree, settings, head),
    "dependencies.json": lambda: dependencies.dependencies_json(root),
    "context_files()": lambda: context.context_files(worktree, settings, head),
}[name]
times = []
for _ in range(101):
    start = time.perf_counter()
    part()
    times.append(time.perf_counter() - start)
listed = [d["path"] for d in json.loads(dependencies.dependencies_json(root))]
print(json.dumps({"times": times, "dependencies": listed}))
"""

_PARTS = ("environment.txt", "data.json", "dependencies.json", "context_files()")


def _context_files_rows(root: Path) -> list[Row]:
    """``context_files()`` and each part, each in a process of its own that imports
    nothing from a checkout (this benchmark's checkout would be a dependency of its own):
    the first call of the process against the calls after it."""
    head = git(root, "rev-parse", "HEAD").strip()
    rows = []
    for name in _PARTS:
        out = subprocess.run([sys.executable, "-c", _CHILD, str(root), head, name], cwd=root,
                             capture_output=True, check=True, text=True).stdout  # fmt: skip
        result = json.loads(out)
        first, later = result["times"][0], result["times"][1:]
        note = "target <= 5 ms with the commit" if name == "context_files()" else ""
        if name == "dependencies.json":
            note = f"dependencies: {', '.join(result['dependencies']) or 'none'}"
        rows.append(Row(f"{name}, a process that made a run before", "1k files",
                        f"{median_ms(later):.2f} ms (p95 {p95_ms(later):.2f})",
                        "the first call of the process", f"{first * 1000:.1f} ms",
                        ratio(later, [first]), note))  # fmt: skip
    return rows


def _dependency_row(scratch: Path) -> Row:
    """``dependencies.json`` of two small dependencies: stamp unchanged, against anew."""
    from autocommit.tracking import dependencies

    roots = []
    for name, enabled in (("benchdep_plain", False), ("benchdep_enabled", True)):
        lib = make_repo(scratch / name, 50)
        (lib / name).mkdir()
        (lib / name / "__init__.py").write_text("VALUE = 1\n")
        git(lib, "add", "-A")
        git(lib, "commit", "-q", "-m", name)
        if enabled:
            git(lib, "config", "autocommit.enabled", "true")
        roots.append(lib.resolve())
    time.sleep(2.1)  # the stamp trusts a tree untouched for two seconds
    anew, kept = [], []
    for _ in range(20):
        dependencies._seen.clear()
        anew.append(_timed(lambda: [dependencies._describe(r, ["m"]) for r in roots]))
        kept.append(_timed(lambda: [dependencies._describe(r, ["m"]) for r in roots]))
    return Row("dependencies.json, 2 dependencies unchanged since the last run", "50 files each",
               f"{median_ms(kept):.2f} ms", "described anew (git status; a snapshot where "
               "enabled, no daemon)", f"{median_ms(anew):.1f} ms", ratio(kept, anew),
               "a stat walk of each tree; anew is every run's cost before this cache")  # fmt: skip


def _fine(times: list[float]) -> str:
    """:func:`fmt_ms`, with microseconds below a millisecond."""
    if median_ms(times) >= 1:
        return fmt_ms(times)
    return f"{median_ms(times):.3f} ms (p95 {p95_ms(times):.3f})"


def _timed(action: object) -> float:
    assert callable(action)
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _write(path: Path, size: int, seed: int) -> None:
    """``size`` bytes of real data (a random block repeated, a distinct first line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as file:
        file.write(f"file {seed}\n".encode())
        left = size - file.tell()
        while left > 0:
            left -= file.write(block[: min(left, len(block))])


def _git_hash_all(root: Path, paths: list[str]) -> float:
    """The baseline: ``git hash-object`` of ``paths`` (the same blob ids), in seconds.
    Above ``core.bigFileThreshold`` (512 MiB) git streams a file through zlib even when it
    writes nothing (7x slower on a 300 MB file here): the threshold is raised, so that git
    hashes every file in memory, as autocommit does."""
    return _timed(lambda: git(root, "-c", "core.bigFileThreshold=4g", "hash-object",
                              "--no-filters", "--stdin-paths",
                              input="\n".join(paths).encode() + b"\n"))  # fmt: skip


def _data_rows(scratch: Path) -> list[Row]:
    from autocommit.gitio.repo import find_worktree
    from autocommit.settings.config import Settings
    from autocommit.tracking import data_files

    root = make_repo(scratch / "data-repo", 100)
    small = (2 * 1024**3 - BIG) // (DATA_FILES - 1)
    names = [f"data/part{n:03d}.bin" for n in range(DATA_FILES - 1)]
    for n, name in enumerate(names):
        _write(root / name, small, n)
    _write(root / "data" / "big.bin", BIG, -1)
    names.append("data/big.bin")
    past = time.time() - 3600
    for name in names:
        os.utime(root / name, (past, past))  # settled files: their hashes are cached
    os.sync()  # written back before timing: the files are read from the page cache
    worktree, settings = find_worktree(root), Settings(enabled=True)
    like = git(root, "rev-parse", "HEAD").strip()

    def data_json() -> bytes:
        return data_files.data_json(worktree, settings, like)

    first: list[float] = []  # the first runs, each within its budget
    pending = True
    while pending:
        start = time.perf_counter()
        pending = b'"blob": null' in data_json()
        first.append(time.perf_counter() - start)
    baseline_all = _git_hash_all(root, names)
    again = [_timed(data_json) for _ in range(30)]
    walk_only = [_timed(lambda: data_files.matching_files(root, settings.data_paths))
                 for _ in range(30)]  # fmt: skip
    with open(root / "data" / "big.bin", "r+b") as file:
        file.seek(BIG // 2)
        file.write(b"changed")
    os.utime(root / "data" / "big.bin", (past + 1, past + 1))
    os.sync()
    rehash = _timed(data_json)
    after = _timed(data_json)
    baseline_big = _git_hash_all(root, ["data/big.bin"])
    budget = data_files.HASH_BUDGET // 1024**2
    runs = ", ".join(f"{t:.1f}" for t in first)
    return [
        Row("data.json, the first runs of a repository", "200 files, 2 GiB",
            f"{len(first)} runs: {runs} s (in all {sum(first):.1f} s)",
            "git hash-object of every file", f"{baseline_all:.1f} s",
            ratio([sum(first)], [baseline_all]),
            f"each run hashes {budget} MiB (at least one file), smallest first; the rest is "
            "marked pending"),
        Row("data.json, nothing changed since the last run", "200 files, 2 GiB",
            f"{median_ms(again):.1f} ms (p95 {p95_ms(again):.1f})",
            "git hash-object of every file", f"{baseline_all * 1000:.0f} ms",
            ratio(again, [baseline_all]),
            f"target <= 10 ms; of which the walk finding the files: {median_ms(walk_only):.1f} ms"),
        Row("data.json, one 1 GiB file changed", "200 files, 2 GiB", f"{rehash * 1000:.0f} ms",
            "git hash-object of that file", f"{baseline_big * 1000:.0f} ms",
            ratio([rehash], [baseline_big]),
            f"re-hashed once (SHA-1 of every byte); the next run: {after * 1000:.1f} ms"),
    ]  # fmt: skip


def _forget_walks() -> None:
    """``data.json``'s walk as in a new process: no listing, no walk, no watch kept."""
    from autocommit.tracking import data_files

    for watch in data_files._watches.values():
        watch.close()
    for kept in (data_files._watches, data_files._walks, data_files._listings, data_files._steps):
        kept.clear()


def _walk_before(root: Path, patterns: tuple[str, ...]) -> list[str]:
    """The baseline: the walk as a later run made it before the walk was watched and
    pruned (one ``lstat`` per directory of the repository through the kept listings, the
    matching kept with them)."""
    from autocommit.tracking import data_files

    top, found, stack = str(root) + os.sep, [], [("", False)]
    while stack:
        directory, whole = stack.pop()
        files, subdirectories = data_files._step(top, directory, whole, patterns)
        found += files
        stack += subdirectories
    return found


@contextlib.contextmanager
def _unpruned() -> Iterator[None]:
    """The walk entering every directory, whatever the patterns (as before pruning)."""
    from autocommit.tracking import data_files

    pruning = data_files._may_hold
    data_files._steps.clear()  # the steps kept were worked out with pruning
    data_files._may_hold = lambda patterns, directory: True  # type: ignore[assignment]
    try:
        yield
    finally:
        data_files._may_hold = pruning
        data_files._steps.clear()


def _data_walk_rows(root: Path, files: int) -> list[Row]:
    """``data.json``'s walk with the default ``data_paths`` (every directory may hold a
    ``data/``) and with anchored ones, in a repository without data (read only)."""
    from autocommit.settings.config import DEFAULT_DATA_PATHS

    rows = _data_walk(root, files, DEFAULT_DATA_PATHS, "data/, datasets/ (any depth)")
    rows += _data_walk(root, files, ("/data/", "/datasets/"), "/data/, /datasets/ (anchored)")
    _forget_walks()
    return rows


def _data_walk(root: Path, files: int, patterns: tuple[str, ...], what: str) -> list[Row]:
    from autocommit.tracking import data_files, tree_watch

    _forget_walks()
    time.sleep(2.1)  # directories settled: the walk is kept (and watched)
    first = _timed(lambda: data_files.matching_files(root, patterns))
    watched = measure(lambda: data_files.matching_files(root, patterns), REPEAT)
    kept = data_files._walks.get((str(root) + os.sep, patterns))
    assert kept is not None, "no directory may change while this is measured"
    flat = measure(lambda: data_files._unchanged(kept.directories, kept.keys), REPEAT)
    with _unpruned():
        before = measure(lambda: _walk_before(root, patterns), REPEAT)
    changed = [] if files >= HUGE else _after_a_name_added(root, patterns)
    _forget_walks()
    with _unpruned():
        walk_first = _timed(lambda: _walk_before(root, patterns))
    how = (f"read of the watch; a stat of each directory instead: {_fine(flat)}"
           if kept.generation else
           f"over the watch budget ({tree_watch._budget()}): a stat per directory")  # fmt: skip
    changed_note = f"; a file added in one directory since: {_fine(changed)}" if changed else ""
    return [
        Row(f"data.json walk, nothing changed, {what}", size_label(files), _fine(watched),
            "the walk before this change (a stat per directory, kept listings; no pruning)",
            _fine(before), ratio(watched, before),
            f"{len(kept.directories)} directories walked; {how}{changed_note}"),
        Row(f"data.json walk, first run of a process, {what}", size_label(files),
            f"{first * 1000:.0f} ms", "the walk before this change (no watches, no pruning)",
            f"{walk_first * 1000:.0f} ms", ratio([first], [walk_first]),
            "lists every directory it walks, then watches them (names only)"),
    ]  # fmt: skip


def _after_a_name_added(root: Path, patterns: tuple[str, ...]) -> list[float]:
    """A later run's walk right after a file was added in one directory (the kept
    repositories of :data:`HUGE` files are left alone)."""
    from autocommit.tracking import data_files

    times = []
    for n in range(5):
        added = root / "pkg0" / f"added-{n}.txt"
        added.write_text("")
        times.append(_timed(lambda: data_files.matching_files(root, patterns)))
        added.unlink()
        data_files.matching_files(root, patterns)
    return times


def _big_dependency_rows(root: Path, files: int) -> list[Row]:
    """``dependencies.json`` for a dependency of ``files`` tracked files (not enabled):
    a later run with nothing changed, against describing it anew (``git status``), what
    every run did before for a tree of more than 5000 entries."""
    from autocommit.tracking import dependencies, tree_stamp

    real = root.resolve()
    for kept in (dependencies._seen, dependencies._ignored):
        kept.pop(real, None)
    repeat = 3 if files >= 1_000_000 else 10  # git status of 1M files takes seconds
    first = _timed(lambda: dependencies._describe(real, ["pkg0"]))
    again = measure(lambda: dependencies._describe(real, ["pkg0"]), repeat * 3)
    watch = dependencies._watches.get(real)
    how = (f"watched ({watch.count} directories)" if watch is not None and watch.current()
           else "over the watch budget: walked" if not tree_stamp.too_large(real)
           else "over the watch budget and the walk limit: git status at every run")  # fmt: skip
    anew = []
    for _ in range(repeat):
        dependencies._seen.pop(real, None)
        anew.append(_timed(lambda: dependencies._describe(real, ["pkg0"])))
    if watch is not None:
        watch.close()
    dependencies._watches.pop(real, None)
    return [Row("dependencies.json, a large dependency unchanged since the last run",
                size_label(files), _fine(again), "described anew (git status), as every "
                "run did before for a tree over 5000 entries", _fine(anew), ratio(again, anew),
                f"{how}; first run of the process: {first * 1000:.0f} ms")]  # fmt: skip


def _virtualenv_dependency_row(scratch: Path) -> Row:
    """A dependency of 1k files holding a virtualenv of 20k files (ignored), as the
    benchmark's own process has (its Python in a checkout's ``.venv``)."""
    from autocommit.tracking import dependencies

    lib = make_repo(scratch / "venv-dependency", 1000)
    (lib / ".gitignore").write_text(".venv/\n")
    git(lib, "add", ".gitignore")
    git(lib, "commit", "-q", "-m", "ignore the virtualenv")
    for n in range(20_000):
        path = lib / ".venv" / "lib" / "site-packages" / f"pkg{n % 400}" / f"m{n}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    time.sleep(2.1)  # the stamp trusts a tree untouched for two seconds
    real = lib.resolve()
    dependencies._describe(real, ["pkg0"])
    again = measure(lambda: dependencies._describe(real, ["pkg0"]), REPEAT)
    anew = []
    for _ in range(10):
        dependencies._seen.pop(real, None)
        anew.append(_timed(lambda: dependencies._describe(real, ["pkg0"])))
    return Row("dependencies.json, a dependency holding a virtualenv, unchanged",
               "1k files + 20k in .venv/", _fine(again), "described anew (git status), as "
               "every run did before (over 5000 entries with its virtualenv)", _fine(anew),
               ratio(again, anew), "its stamp skips what git ignores as a whole")  # fmt: skip


def _scale_rows(scratch: Path, sizes: tuple[int, ...]) -> list[Row]:
    rows = [_virtualenv_dependency_row(scratch)]
    for files in sizes:
        root = bench_repo(scratch / f"scale-{files}", files)
        rows += _data_walk_rows(root, files)
        rows += _big_dependency_rows(root, files)
    return rows


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
            rows += _context_files_rows(root)
            rows.append(_environment_row())
            rows.append(_dependency_row(scratch))
            rows += _data_rows(scratch)
            rows += _scale_rows(scratch, sizes)
        finally:
            os.chdir(cwd)
    return rows


if __name__ == "__main__":
    for row in run((1000, 10000)):
        print(row)
