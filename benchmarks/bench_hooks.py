"""What the git hooks cost the user: ``git commit`` and ``git checkout`` with autocommit's
hooks installed (repository enabled, no daemon) next to the same repository without
hooks, alternating in one run. Also: how long the hook's work takes after git returned
(the snapshot it takes in the background, until the shadow branch is updated).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from autocommit.gitio.repo import find_worktree
from autocommit.hooks.run import wait_for_hooks
from benchmarks.common import Row, fmt_ms, git, make_repo, ratio, size_label

REPEAT = 20
WARMUP = 2


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _git_timed(root: Path, *args: str) -> float:
    return _timed(lambda: git(root, *args))


def _prepare(root: Path, files: int, hooked: bool) -> Path:
    make_repo(root, files)
    (root / "notes.txt").write_text("untracked work in progress\n")
    git(root, "-c", "core.hooksPath=/dev/null", "checkout", "-q", "-b", "other")
    (root / "pkg1" / "mod0" / "file1.py").write_text("VALUE = 'other'\n")
    git(root, "-c", "core.hooksPath=/dev/null", "commit", "-q", "-am", "other")
    git(root, "-c", "core.hooksPath=/dev/null", "checkout", "-q", "-")
    if hooked:
        subprocess.run([sys.executable, "-m", "autocommit", "init", "--no-daemon"],
                       cwd=root, check=True, capture_output=True)  # fmt: skip
    return root


def _measure(files: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        k: [] for k in ("commit", "commit+hooks", "checkout", "checkout+hooks", "work")
    }
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp:
        plain = _prepare(Path(tmp) / "plain", files, hooked=False)
        hooked = _prepare(Path(tmp) / "hooked", files, hooked=True)
        worktree = find_worktree(hooked)
        first = git(plain, "symbolic-ref", "--short", "HEAD").strip()
        for i in range(WARMUP + REPEAT):
            keep = i >= WARMUP
            for root, key in ((plain, "commit"), (hooked, "commit+hooks")):
                (root / "pkg0" / "mod0" / "file0.py").write_text(f"VALUE = {i}\n")
                took = _git_timed(root, "commit", "-q", "-am", f"change {i}")
                times[key].extend([took] if keep else [])
            work = _timed(lambda: wait_for_hooks(worktree))
            times["work"].extend([work] if keep else [])
            for branch in ("other", first):
                for root, key in ((plain, "checkout"), (hooked, "checkout+hooks")):
                    took = _git_timed(root, "checkout", "-q", branch)
                    times[key].extend([took] if keep else [])
                wait_for_hooks(worktree)
    return times


def run(sizes: tuple[int, ...]) -> list[Row]:
    rows = []
    for files in sizes:
        t = _measure(files)
        size = size_label(files)
        rows += [
            Row("git commit, hooks installed", size, fmt_ms(t["commit+hooks"]),
                "git commit, no hooks", fmt_ms(t["commit"]),
                ratio(t["commit+hooks"], t["commit"]),
                "what the user waits for; the hook's work runs after git returns"),
            Row("git checkout, hooks installed", size, fmt_ms(t["checkout+hooks"]),
                "git checkout, no hooks", fmt_ms(t["checkout"]),
                ratio(t["checkout+hooks"], t["checkout"]), "switching between two branches"),
            Row("hook work after a commit (background)", size, fmt_ms(t["work"]),
                "git commit, no hooks", fmt_ms(t["commit"]), ratio(t["work"], t["commit"]),
                "until the shadow branch holds the new snapshot; nobody waits for it"),
        ]  # fmt: skip
    return rows


if __name__ == "__main__":
    for row in run((1000, 10000)):
        print(row)
