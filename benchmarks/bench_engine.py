"""The snapshot engine next to the naive design, on the same synthetic repository.

Naive design: copy ``.git/index`` to a temporary file, ``git add -A`` into it,
``write-tree``, ``commit-tree``, ``update-ref``. The engine: an incremental snapshot
told which file changed, with git processes kept between snapshots (what the daemon
does), a full scan (``paths=None``, what a snapshot without the daemon does), and
``autocommit snapshot`` run as a new process, with where its time goes besides the scan.
Rounds alternate engine and naive, each after a fresh one-file change, so both see the
same machine load, and each after ``os.sync()``: the naive snapshot leaves a copy of the
index behind (9 MB at 100k files) and a new one written by git, whose write-back
otherwise lands on the round after it (a third of a full scan's time at 100k files).
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
from benchmarks.common import HUGE, Row, bench_repo, file_path, fmt_ms, ratio, size_label

NAIVE = "naive: copy index + add -A + write-tree + commit-tree + update-ref"


def _repeats(files: int) -> tuple[int, int, int]:
    """(one-change rounds, full-scan rounds, new-process rounds) for a repository size."""
    return (30, 10, 15) if files <= 10000 else (20, 5, 10) if files < HUGE else (20, 5, 5)


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
            os.sync()  # neither pays for the disk writes the other left behind
            start = time.perf_counter()
            action()
            if i:
                bucket.append(time.perf_counter() - start)
    return times


def _fresh_process(script: Path, root: Path) -> None:
    """``autocommit snapshot`` as a user or a script runs it: a new process of the
    console script of an installed wheel (see :func:`installed`)."""
    subprocess.run([str(script), "snapshot"], cwd=root, check=True, capture_output=True)


# What `autocommit snapshot` imports beyond the interpreter's start (see _breakdown).
SNAPSHOT_IMPORTS = ("autocommit.cli.parser, autocommit.cli.commands.snapshot, "
                    "autocommit.engine.snapshot, autocommit.engine.maintenance")  # fmt: skip


def installed(where: Path) -> Path:
    """autocommit as ``pip install`` leaves it in a user's environment, for the new-process
    rows: this checkout's wheel installed (modules compiled, the console script pip
    writes) in a new virtualenv, which finds the dependencies in this environment's
    site-packages (named in a ``.pth`` file, so their own ``.pth`` files are not run).
    Its console script. This project's development environment runs an editable
    install's import finder and the coverage hook at every interpreter start, which no
    user's install has (its interpreter starts 10 ms later, though it then has less
    left to import: the two take about the same)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(where / "dist"), str(Path(__file__).parents[1])],
                   check=True, capture_output=True)  # fmt: skip
    env = where / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    wheel = next((where / "dist").glob("autocommit-*.whl"))
    python = env / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    subprocess.run([*pip, "--no-index", str(wheel)], check=True, capture_output=True)
    where_libs = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = subprocess.run([str(python), "-c", where_libs], check=True, capture_output=True,
                             text=True)  # fmt: skip
    ours = [p for p in sys.path if p.endswith("site-packages")]
    (Path(purelib.stdout.strip()) / "dependencies.pth").write_text("\n".join(ours) + "\n")
    return env / "bin" / "autocommit"


def _breakdown(script: Path, root: Path, changed: str, rounds: int) -> str:
    """Where a new process's time goes before and beside the scan: the interpreter's
    start, the imports, and the git processes it runs (counted by a ``git`` on PATH that
    records each command line)."""
    python = str(script.with_name("python"))
    interpreter = _median_run([python, "-c", "pass"], root, rounds)
    imports = _median_run([python, "-c", f"import {SNAPSHOT_IMPORTS}"], root, rounds)
    with tempfile.TemporaryDirectory(prefix="git-log-") as tmp:
        log, real = Path(tmp) / "log", shutil.which("git")
        wrapper = Path(tmp) / "git"
        wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{real}" "$@"\n')
        wrapper.chmod(0o755)
        env = {**os.environ, "PATH": f"{tmp}{os.pathsep}{os.environ['PATH']}"}
        (root / changed).write_text("# changed for the breakdown\n")
        subprocess.run([str(script), "snapshot"], cwd=root, env=env, check=True,
                       capture_output=True)  # fmt: skip
        verbs = [_verb(line) for line in log.read_text().splitlines()]
    counted = ", ".join(f"{v} x{verbs.count(v)}" if verbs.count(v) > 1 else v
                        for v in dict.fromkeys(verbs))  # fmt: skip
    return (f"interpreter start {interpreter:.0f} ms, imports {imports - interpreter:.0f} ms; "
            f"{len(verbs)} git processes ({counted}), diff-files started before the "
            "engine's imports")  # fmt: skip


def _median_run(argv: list[str], cwd: Path, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _verb(command_line: str) -> str:
    """``config`` of ``-c core.hooksPath=/dev/null ... --no-pager config -z ...``."""
    words = command_line.split()
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] == "-c" else 1
    return words[i] if i < len(words) else "?"


def measure(files: int) -> tuple[dict[str, list[float]], str]:
    """Each way's times, and where a new process's time goes (:func:`_breakdown`)."""
    one_change_rounds, full_rounds, fresh_rounds = _repeats(files)
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
        script = installed(Path(tmp) / "installed")
        fresh, naive_fresh = _alternate(root, changed, fresh_rounds,
                                        lambda: _fresh_process(script, root),
                                        lambda: naive_snapshot(root))  # fmt: skip
        breakdown = _breakdown(script, root, changed, fresh_rounds)
    return {"incremental": incremental, "naive": naive, "full": full, "naive_full": naive_full,
            "fresh": fresh, "naive_fresh": naive_fresh}, breakdown  # fmt: skip


def _of_naive(t: dict[str, list[float]], key: str) -> str:
    return f"{statistics.median(t[key]) / statistics.median(t['naive_' + key]):.2f}x naive"


def run(sizes: tuple[int, ...]) -> list[Row]:
    rows = []
    for files in sizes:
        t, breakdown = measure(files)
        size = size_label(files)
        rows += [
            Row("one-file-change snapshot (paths given)", size, fmt_ms(t["incremental"]),
                NAIVE, fmt_ms(t["naive"]), ratio(t["incremental"], t["naive"]),
                "what the daemon does per change"),
            Row("full-scan snapshot (no paths)", size, fmt_ms(t["full"]),
                NAIVE, fmt_ms(t["naive_full"]), ratio(t["full"], t["naive_full"]),
                f"without the daemon, and after git operations; {_of_naive(t, 'full')}, "
                "target <= 0.5x"),
            Row("`autocommit snapshot`, a fresh process (installed from the wheel)", size,
                fmt_ms(t["fresh"]), NAIVE, fmt_ms(t["naive_fresh"]),
                ratio(t["fresh"], t["naive_fresh"]),
                f"{_of_naive(t, 'fresh')}, target <= 0.6x; {breakdown}"),
        ]  # fmt: skip
    return rows


if __name__ == "__main__":
    from benchmarks.common import sizes_from_env

    for row in run(sizes_from_env((10000,))):
        print(row)
