"""Checking a worker's files against the submitted tree (``autocommit.verified``).

A job's working directory, as a launcher unpacked it: the benchmark repository's files
copied without ``.git``. autocommit hashes them in Python and compares the tree id with
the submitted one (:func:`autocommit.engine.submitted_tree.check`, with the manifest
``launch_env()`` sends). The baseline is what git would do with the same files and a
repository at hand: ``git add -A`` into a scratch index, then ``write-tree`` (the work
tree pointed at the copy, the index starting empty). Both give the same tree id, checked
first. Medians of alternating rounds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from autocommit.engine.submitted_tree import check, manifest_of
from benchmarks.common import Row, fmt_ms, git, make_repo, measure, ratio, size_label

ROUNDS = 15
BUDGET_MS = 50.0  # for 1k files (the bound)


def run(sizes: tuple[int, ...]) -> list[Row]:
    rows = []
    for files in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            rows.append(_one(Path(scratch), files))
    return rows


def _one(scratch: Path, files: int) -> Row:
    repo = make_repo(scratch / "repo", files)
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    manifest = manifest_of(repo, tree, [])
    worker = scratch / "worker"
    shutil.copytree(repo, worker, ignore=shutil.ignore_patterns(".git"))
    index = scratch / "scratch.index"
    env = {**os.environ, "GIT_DIR": str(repo / ".git"), "GIT_WORK_TREE": str(worker),
           "GIT_INDEX_FILE": str(index)}  # fmt: skip

    def with_git() -> str:
        index.unlink(missing_ok=True)
        subprocess.run(["git", "add", "-A"], cwd=worker, env=env, check=True)
        return subprocess.run(["git", "write-tree"], cwd=worker, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()  # fmt: skip

    assert check(worker, tree, manifest).verified(tree)
    assert with_git() == tree
    ours = measure(lambda: check(worker, tree, manifest), ROUNDS)
    baseline = measure(with_git, ROUNDS)
    within = "within" if sorted(ours)[len(ours) // 2] * 1000 <= BUDGET_MS else "OVER"
    return Row(
        benchmark="worker check: files → tree id in Python, compared with the submitted one",
        size=size_label(files),
        autocommit=fmt_ms(ours),
        baseline_name="git add -A into a scratch index + write-tree",
        baseline=fmt_ms(baseline),
        ratio=ratio(ours, baseline),
        note=f"{within} the {BUDGET_MS:.0f} ms bound at 1k files" if files == 1000 else "",
    )


if __name__ == "__main__":
    for row in run((1000, 10000)):
        print(row)
