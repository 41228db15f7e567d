"""A generator writing thousands of files in a burst: the daemon's memory stays within
twice what it holds idle, it takes few snapshots meanwhile, and the snapshot right after
is exact. (``benchmarks/bench_daemon.py`` measures 50k files on a 100k-file tree.)"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import psutil

from autocommit.daemon import client
from autocommit.gitio.repo import Worktree
from tests.support.daemon import shadow_commits
from tests.support.oracle import expected_tree

FILES = 5000
_GENERATOR = """
import os, sys
for i in range(int(sys.argv[1])):
    folder = "out/d%d" % (i // 100)
    if i % 100 == 0:
        os.makedirs(folder)
    with open("%s/f%d.txt" % (folder, i), "w") as f:
        f.write("%d\\n" % i)
"""


def test_a_burst_of_new_files(daemon: Worktree) -> None:
    root = daemon.root
    first = client.sync(daemon)
    assert first is not None
    ref = first.shadow_ref.removeprefix("refs/")
    process = psutil.Process(client.status(daemon)["pid"])
    idle = process.memory_info().rss
    before = len(shadow_commits(root, ref))
    peak = [idle]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        subprocess.run([sys.executable, "-c", _GENERATOR, str(FILES)], cwd=root, check=True)
        during = len(shadow_commits(root, ref)) - before
        snap = client.sync(daemon, timeout=60)
    finally:
        done.set()
        sampler.join()
    assert snap is not None and snap.tree == expected_tree(root)
    assert during <= 3
    assert peak[0] <= 2 * idle, (peak[0], idle)
    assert len(list(Path(root, "out").rglob("*.txt"))) == FILES
