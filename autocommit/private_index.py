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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from autocommit import git, state_files
from autocommit.errors import GitCommandError
from autocommit.exclusions import ExclusionRules
from autocommit.lock import snapshot_lock
from autocommit.repo import Worktree
from autocommit.snapshot_state import index_digest


@dataclass(frozen=True)
class Staged:
    """What a full scan staged: the tree, the files left out (and why), and the untracked
    files it added."""

    tree: str
    left_out: dict[str, str]
    untracked: list[str]
    seed_digest: str | None = None  # what the user's index tracked (when asked for)


@dataclass(frozen=True)
class _Staging:
    tree: str
    unreadable: dict[str, str]  # path → why git could not read it
    untracked: list[str]  # the untracked files added


class PrivateIndex:
    def __init__(self, worktree: Worktree) -> None:
        self.worktree = worktree
        self.root = worktree.root
        self.path = worktree.state_dir / "index"
        self.seed = worktree.state_dir / "index.seed"  # the user's index, as copied

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
        """Start the private index afresh from a copy of the user's index (the seed).

        The copy keeps the file's mtime: git's racy-timestamp check compares entries
        against it, so a file changed in the same instant the user's index was written
        is still re-hashed. The private index starts as a hard link to the seed: git
        never writes an index in place (it writes a new file and renames it over the
        old one), so the seed keeps the user's index as it was while the private index
        changes. Only a full scan reads either, under the snapshot lock, and each one
        starts here: a copy cut short by a crash is never read.
        """
        state_files.ensure_dir(self.worktree.state_dir)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.seed)  # a new file costs less than one truncated
        with contextlib.suppress(FileNotFoundError):  # none: no commits yet, an empty index
            shutil.copy2(self.worktree.git_dir / "index", self.seed)
            os.chmod(self.seed, state_files.FILE_MODE)  # copy2 copied your index's mode
        self._start_from_seed()

    def _start_from_seed(self) -> None:
        """The private index as the seed is (empty when there is no seed)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        if not self.seed.exists():
            return
        try:
            os.link(self.seed, self.path)
        except OSError:  # a file system without hard links
            shutil.copy2(self.seed, self.path)

    def stage_everything(
        self, rules: ExclusionRules, guess: Sequence[str] = (), *, digest_seed: bool = False
    ) -> Staged:
        """``git add -A`` minus the exclusions, then ``write-tree``.

        The untracked files are listed first, so the exclusions apply before git reads
        them; the kept ones are added by name (``add -A`` would walk the directories a
        second time). The walk (``ls-files --others``, against the seed) runs beside the
        staging of the private index: ``add -u`` for the tracked files, the untracked
        files of ``guess`` (those the previous full scan added, which seldom change), and
        ``write-tree``. When the walk finds what was guessed, that tree is the answer;
        new untracked files are added and the tree written again (reusing its subtrees);
        a wrong guess (a file since ignored or added to your index) starts over.
        ``digest_seed``: also record what the seed tracks (:func:`index_digest`), on the
        walk's thread, so that a later rewrite of the user's index that tracks the same
        needs no full scan.
        """
        listing_args = ["ls-files", "-z", "--others", "--exclude-standard"]
        seed_env = {"GIT_INDEX_FILE": str(self.seed)}
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The context carries the snapshot lock to the thread's git child.
            run = contextvars.copy_context().run
            listing = pool.submit(run, git.run, listing_args, self.root, env=seed_env)
            digest = pool.submit(run, index_digest, self.root, self.seed) if digest_seed else None
            staged = self._stage(rules, guess)
            untracked = git.nul_split(listing.result().stdout)
            seed_digest = digest.result() if digest else None
        kept, skipped = rules.partition(self.root, untracked)
        kept_set = set(kept)
        if not kept_set.issuperset(staged.untracked):
            self._start_from_seed()
            staged = self._stage(rules, kept)
        added = set(staged.untracked)
        missing = [p for p in kept if p not in added]
        unreadable = dict(staged.unreadable)
        if missing:
            unreadable.update(self._add_untracked(missing))
        vanished = [p for p in unreadable if not os.path.lexists(self.root / p)]
        if vanished:  # deleted while git read them: record that
            self._git(["update-index", "--add", "--remove", "-z", "--stdin"],
                      git.nul_join(vanished))  # fmt: skip
        left_out = {s.path: s.reason for s in skipped}
        for path, why in unreadable.items():
            if path not in vanished:
                left_out[path] = f"unreadable: {why}"
        tree = self.write_tree() if missing or vanished else staged.tree
        # git wrote the private index (and any split-index file) with your umask.
        state_files.narrow(self.worktree.state_dir)
        return Staged(tree, left_out, kept, seed_digest)

    def _stage(self, rules: ExclusionRules, guess: Sequence[str]) -> _Staging:
        """``add -u``, the untracked files of ``guess`` the rules keep, ``write-tree``."""
        unreadable = self._add(["add", "-u", "--ignore-errors"], [])
        present = [p for p in guess if os.path.lexists(self.root / p)]
        guessed, _ = rules.partition(self.root, present)
        if guessed:
            unreadable.update(self._add_untracked(guessed))
        return _Staging(self.write_tree(), unreadable, guessed)

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
