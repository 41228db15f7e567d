"""The full scan: the whole working tree staged into autocommit's private index.

The private index lives under ``<git-dir>/autocommit/index``, never the user's
``.git/index``. Each full scan re-seeds it from a copy of the user's index (keeping its
stat data, so unchanged files are not re-hashed), stages the tracked files into it and
adds the untracked files the exclusion rules keep.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from autocommit import git
from autocommit.errors import GitCommandError
from autocommit.exclusions import ExclusionRules
from autocommit.lock import snapshot_lock
from autocommit.repo import Worktree


class PrivateIndex:
    def __init__(self, worktree: Worktree) -> None:
        self.worktree = worktree
        self.root = worktree.root
        self.path = worktree.state_dir / "index"

    @property
    def env(self) -> dict[str, str]:
        return {"GIT_INDEX_FILE": str(self.path)}

    def _git(self, args: list[str], input: bytes | None = None) -> bytes:
        return git.run(args, self.root, input=input, env=self.env).stdout

    def locked(self, timeout: float) -> contextlib.AbstractContextManager[None]:
        """The snapshot lock (:func:`autocommit.lock.snapshot_lock`) of this worktree."""
        return snapshot_lock(self.worktree, timeout)

    def remove_stale_lock(self) -> None:
        """Drop ``index.lock`` left by a killed git (call only under the snapshot lock)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(self.path) + ".lock")

    def reseed_from_user_index(self) -> None:
        """Replace the private index by a copy of the user's index.

        The copy keeps the file's mtime: git's racy-timestamp check compares entries
        against it, so a file changed in the same instant the user's index was written
        is still re-hashed. Copied in place: only a full scan reads the private index, and
        each one (under the snapshot lock) starts by copying it again, so a copy cut short
        by a crash is never read.
        """
        self.worktree.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(self.worktree.git_dir / "index", self.path)
        except FileNotFoundError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)  # no commits yet: start from an empty index

    def stage_everything(self, rules: ExclusionRules) -> tuple[str, dict[str, str]]:
        """``git add -A`` minus the exclusions, then ``write-tree``; returns the tree and
        the files left out, and why.

        The untracked files are listed first, so the exclusions apply before git reads
        them; the kept ones are added by name (``add -A`` would walk the directories a
        second time). Listing them (a walk of the directories) and staging the tracked
        files (``add -u``, a stat of each) run side by side: both start from the seed,
        and ``add -u`` changes no path from untracked to tracked or back. While the walk
        goes on, the tree of the tracked files is written: it is the answer whenever the
        walk finds nothing to add, and otherwise the next ``write-tree`` reuses its
        subtrees.
        """
        listing_args = ["ls-files", "-z", "--others", "--exclude-standard"]
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The context carries the snapshot lock to the thread's git child.
            listing = pool.submit(contextvars.copy_context().run, self._git, listing_args)
            unreadable = self._add(["add", "-u", "--ignore-errors"], [])
            tree = self.write_tree()
            untracked = git.nul_split(listing.result())
        kept, skipped = rules.partition(self.root, untracked)
        left_out = {s.path: s.reason for s in skipped}
        if kept:
            unreadable.update(self._add_untracked(kept))
        vanished = [p for p in unreadable if not os.path.lexists(self.root / p)]
        if vanished:  # deleted while git read them: record that
            self._git(["update-index", "--add", "--remove", "-z", "--stdin"],
                      git.nul_join(vanished))  # fmt: skip
        for path, why in unreadable.items():
            if path not in vanished:
                left_out[path] = f"unreadable: {why}"
        if kept or vanished:  # the index changed since its tree was written
            tree = self.write_tree()
        return tree, left_out

    def _add_untracked(self, paths: list[str]) -> dict[str, str]:
        """Add untracked files by name; returns the ones git could not read, and why."""
        proc = git.run(["update-index", "--add", "--remove", "--replace", "-z", "--stdin"],
                       self.root, input=git.nul_join(paths), env=self.env,
                       check=False)  # fmt: skip
        if proc.returncode == 0:
            return {}
        # update-index stops at the first file it cannot read: let `git add` go on past it.
        specs = [":(top,literal)" + p for p in paths if os.path.lexists(self.root / p)]
        return self._add(["add", "--ignore-errors", "--pathspec-from-file=-",
                          "--pathspec-file-nul"], specs) if specs else {}  # fmt: skip

    def _add(self, args: list[str], specs: list[str]) -> dict[str, str]:
        """Run a ``git add``; returns the files it could not read, and why."""
        proc = git.run(args, self.root, input=git.nul_join(specs), env=self.env,
                       ok_codes=(0, 1))  # fmt: skip
        return _unreadable(proc)

    def write_tree(self) -> str:
        return self._git(["write-tree"]).decode().strip()


def _unreadable(proc: subprocess.CompletedProcess[bytes]) -> dict[str, str]:
    """Files ``git add --ignore-errors`` could not read (it exits 1 and names them)."""
    if proc.returncode == 0:
        return {}
    stderr = proc.stderr.decode(errors="surrogateescape")
    found: dict[str, str] = {}
    for line in stderr.splitlines():
        if line.startswith('error: open("') and '"): ' in line:
            path, _, why = line.removeprefix('error: open("').partition('"): ')
            found[path] = why
    if not found:
        raise GitCommandError(["add", "-A"], proc.returncode, stderr)
    return found
