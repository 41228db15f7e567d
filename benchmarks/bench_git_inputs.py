"""What noticing a change of git's inputs costs the daemon at each batch and sync.

git's inputs outside the repository (global and XDG config, included files, the global
ignore and attribute files) are not watched: the daemon ``stat``s each of them when it
takes a batch (:mod:`autocommit.gitio.git_inputs`). The baseline asks git for the list at
every batch instead (one ``git config``), which is what keeping no list would cost.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from autocommit.gitio import git_inputs
from autocommit.gitio.repo import find_worktree
from benchmarks.common import Row, fmt_ms, git, measure, ratio

REPEAT = 500


def run(sizes: tuple[int, ...]) -> list[Row]:
    del sizes  # the cost depends on the number of git's inputs, not of files
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
        (home / ".gitconfig").write_text(
            f"[include]\n\tpath = {home}/extra.gitconfig\n[core]\n\texcludesFile = ~/ignore\n"
        )
        root = home / "repo"
        root.mkdir()
        git(root, "init", "-q")
        worktree = find_worktree(root)
        time.sleep(1.1)  # the list is kept once the config files are older than a second
        count = len(git_inputs.files(worktree))

        def kept_list() -> None:
            git_inputs.fingerprint(git_inputs.files(worktree))

        def asking_git() -> None:
            git_inputs._listed.clear()
            git_inputs.fingerprint(git_inputs.files(worktree))

        ours = measure(kept_list, REPEAT, warmup=10)
        baseline = measure(asking_git, REPEAT // 10, warmup=2)
    return [
        Row("git's inputs checked (per batch/sync)", f"{count} files", fmt_ms(ours, False),
            "asking git config for them each time", fmt_ms(baseline, False),
            ratio(ours, baseline), "a stat per file, no inotify watch on $HOME"),
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run(()):
        print(row)
