"""``git diff-files`` started first thing by a new ``autocommit snapshot`` process.

At 100k files the scan's ``git diff-files`` (a ``stat`` of every tracked file, about
100 ms) is most of a new process's snapshot, and everything before its start is added to
it: importing the command line and the engine, asking git where the repository is,
looking for a daemon (30-40 ms). In the usual layout, where the private index lies can
be seen without git: the current directory inside a working tree whose ``.git`` is a
directory, and no ``GIT_*`` variable set that could be a repository's (so nothing could
make git look elsewhere, and the process's environment is the scan's own).
:func:`started` starts it there at once, before those imports. The scan takes the
process (:func:`taken`) only when git's own answer names the same working tree and the
index is still the file it read; otherwise, and whenever it is left unused, it is
ended. It only reads (no optional locks), so a wrong guess costs nothing but its time.

Light on purpose: the standard library, :mod:`autocommit.gitio.git` and the state
files' names (:mod:`autocommit.state_layout`) only.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator

from autocommit.gitio import git
from autocommit.state_layout import DAEMON_SOCKET, PRIVATE_INDEX, SCAN_CACHE, STATE_DIR

# What the scan runs (see autocommit.engine.diff_files): a submodule counts by its commit.
DIFF_FILES = ("diff-files", "-z", "--name-only", "--ignore-submodules=dirty")

IndexStat = tuple[int, int, int]  # mtime (ns), size, inode: one index file from another

# The process started early: its working tree, index, the index's stat data, itself.
_early: tuple[str, str, IndexStat, subprocess.Popen[bytes]] | None = None


@contextlib.contextmanager
def started() -> Iterator[None]:
    """Start ``git diff-files`` on the private index of the working tree around the
    current directory, when it can be found without git; ended when left unused."""
    global _early
    _early = _start()
    try:
        yield
    finally:
        left, _early = _early, None
        if left is not None:
            _end(left[3])


def taken(root: str, index: str, now: IndexStat | None) -> subprocess.Popen[bytes] | None:
    """The process started early, when it runs in ``root`` on ``index`` whose stat data
    are still ``now`` (then it is the caller's); else None (and it is ended)."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    if (early[0], early[1], early[2]) == (root, index, now):
        return early[3]
    _end(early[3])
    return None


def index_stat(path: str) -> IndexStat | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def _start() -> tuple[str, str, IndexStat, subprocess.Popen[bytes]] | None:
    if git.repository_variables_set():
        return None  # git may look elsewhere than the layout says
    top = _top(os.getcwd())
    if top is None:
        return None
    state = os.path.join(top, ".git", STATE_DIR)
    if os.path.exists(os.path.join(state, DAEMON_SOCKET)):
        return None  # a daemon runs: it is asked instead
    if not os.path.exists(os.path.join(state, SCAN_CACHE)):
        return None  # no scan without a walk: diff-files would not be used
    index = os.path.join(state, PRIVATE_INDEX)
    before = index_stat(index)
    if before is None:
        return None
    try:
        proc = git.popen(DIFF_FILES, top, env={"GIT_INDEX_FILE": index})
    except Exception:  # no git: the command says so in its own words
        return None
    return top, index, before, proc


def _top(directory: str) -> str | None:
    """The nearest directory from ``directory`` up holding a ``.git`` directory; None
    when a ``.git`` file comes first (a linked worktree, a submodule) or there is none."""
    while True:
        dot_git = os.path.join(directory, ".git")
        if os.path.isdir(dot_git) and not os.path.islink(dot_git):
            return directory
        if os.path.lexists(dot_git):
            return None
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()
