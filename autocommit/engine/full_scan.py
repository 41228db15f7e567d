"""The full scan: the whole working tree staged into autocommit's private index.

The private index lives under ``<git-dir>/autocommit/index``, never the user's
``.git/index``. A full scan that walks re-seeds it from a copy of the user's index
(keeping its stat data, so unchanged files are not re-hashed), stages the tracked files
into it and adds the untracked files the exclusion rules keep. The next full scans walk
nothing while the walk's result holds: they ask ``git diff-files`` which files changed
since and :mod:`autocommit.engine.scan_cache` which directories did (see
:meth:`PrivateIndex.changed_since`); the snapshot engine edits the previous tree along
those paths.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, ParamSpec, TypeVar

from autocommit import state_files
from autocommit.engine import diff_files, scan_cache
from autocommit.engine.diff_files import DiffFiles
from autocommit.engine.exclusions import ExclusionRules
from autocommit.engine.file_kind import why_git_cannot_add
from autocommit.engine.lock import snapshot_lock
from autocommit.engine.scan_cache import ScanCache
from autocommit.engine.snapshot_state import IndexDigest, index_digest, stat_key
from autocommit.errors import GitCommandError
from autocommit.gitio import git
from autocommit.gitio.repo import Worktree
from autocommit.state_layout import PRIVATE_INDEX

_RETRIES = 5  # a path that changes each time update-index reaches it: tries before failing
_P = ParamSpec("_P")
_T = TypeVar("_T")


class Staged(NamedTuple):
    """What a full scan staged: the tree, the files left out (and why), and the untracked
    files it added."""

    tree: str
    left_out: dict[str, str]
    untracked: list[str]
    seed_digest: IndexDigest | None = None  # what the user's index tracked (when asked for)
    cache: ScanCache | None = None  # for the next full scan (None: none could be made)


class _Staging(NamedTuple):
    tree: str
    left_out: dict[str, str]  # path → why git could not add it
    untracked: list[str]  # the untracked files added


class PrivateIndex:
    def __init__(self, worktree: Worktree, *, sparse: bool = False) -> None:
        self.worktree = worktree
        self.sparse = sparse  # core.sparseCheckout
        self.root = worktree.root
        self.path = worktree.state_dir / PRIVATE_INDEX
        self.seed = worktree.state_dir / "index.seed"  # the user's index, as copied

    @property
    def env(self) -> dict[str, str]:
        return {"GIT_INDEX_FILE": str(self.path)}

    def _git(self, args: list[str], input: bytes | None = None) -> bytes:
        return git.run(args, self.root, input=input, env=self.env).stdout

    def locked(self, timeout: float) -> contextlib.AbstractContextManager[None]:
        """The snapshot lock (:func:`autocommit.engine.lock.snapshot_lock`) of this worktree."""
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
        # Here: a scan without a walk needs no thread, and a new process saves ~5 ms.
        from concurrent.futures import ThreadPoolExecutor

        listing_args = ["ls-files", "-z", "--others", "--exclude-standard"]
        seed_env = {"GIT_INDEX_FILE": str(self.seed)}
        marker = scan_cache.touch_marker(self.worktree.state_dir)
        with ThreadPoolExecutor(max_workers=2) as pool:  # the walk beside git's
            # The context carries the snapshot lock to the thread's git child.
            listing = pool.submit(_in_context(git.run), listing_args, self.root, env=seed_env)
            digest = (pool.submit(_in_context(index_digest), self.root, self.seed)
                      if digest_seed else None)  # fmt: skip
            walked = pool.submit(_walk, self.root)
            staged = self._stage(rules, guess)
            untracked = git.nul_split(listing.result().stdout)
            seed_digest = digest.result() if digest else None
            directories = walked.result()
        kept, skipped = rules.partition(self.root, untracked)
        kept_set = set(kept)
        if not kept_set.issuperset(staged.untracked):
            self._start_from_seed()
            staged = self._stage(rules, kept)
        added = set(staged.untracked)
        missing = [p for p in kept if p not in added]
        left_out = {s.path: s.reason for s in skipped}
        left_out.update(staged.left_out)
        if missing:
            left_out.update(self.add_paths(missing))
        tree = self.write_tree() if missing else staged.tree
        # git wrote the private index (and any split-index file) with your umask.
        state_files.narrow(self.worktree.state_dir)
        cache = None
        if directories is not None:
            written = stat_key(self.path)
            racy = scan_cache.may_be_racy(written, directories[0])
            cache = ScanCache(marker, written, *directories, [], racy)
        return Staged(tree, left_out, kept, seed_digest, cache)

    def usable(self, cache: ScanCache | None) -> bool:
        """Whether ``cache`` describes the private index as it is (and the seed is there)."""
        return (
            cache is not None
            and cache.private_index is not None
            and cache.private_index == stat_key(self.path)
            and self.seed.exists()
        )

    def start_diff_files(self) -> DiffFiles | None:
        """``git diff-files`` on the private index, started now or ahead (None: there is
        no private index)."""
        return diff_files.start(self.root, self.path)

    def changed_since(
        self, cache: ScanCache, diffing: DiffFiles, marker: int
    ) -> tuple[list[str], ScanCache] | None:
        """The paths that may differ from what the last full walk found, and the cache
        for the next scan: the files whose stat data differ from the private index's
        (``diff-files``, which reads it and writes nothing; git's racy-timestamp rule
        applies), the entries of the directories that changed since ``cache`` was
        written, and the paths found that way before (``cache.pending``); ``cache``
        itself when no directory changed (it needs no writing). None when
        that cannot be exact (a ``.gitignore`` or ``.gitattributes`` changed, a nested
        repository may have appeared): the caller walks everything. ``marker``: the time
        of the marker file, touched before (:func:`scan_cache.touch_marker`)."""
        found = scan_cache.look_around(self.root, cache)  # while git stats the files
        if found is None:
            diffing.cancel()
            return None
        in_directories, directories = found
        pending = sorted({*cache.pending, *in_directories})
        paths = sorted({*diffing.result(), *pending})
        if not in_directories:  # no directory changed or is racy: the cache holds as it is
            return paths, cache
        return paths, cache._replace(marker=marker, directories=directories, pending=pending)

    def _stage(self, rules: ExclusionRules, guess: Sequence[str]) -> _Staging:
        """``add -u``, the untracked files of ``guess`` the rules keep, ``write-tree``."""
        left_out = self._update_tracked()
        present = [p for p in guess if os.path.lexists(self.root / p)]
        guessed, _ = rules.partition(self.root, present)
        if guessed:
            left_out.update(self.add_paths(guessed))
        return _Staging(self.write_tree(), left_out, guessed)

    def _update_tracked(self) -> dict[str, str]:
        """``git add -u``: every tracked file as it is now. Returns the files git could
        not add (kept as the index has them, as ``git add --ignore-errors`` keeps them)."""
        # In a sparse checkout `add -u` passes over files outside the cone that are in
        # the working tree anyway; --sparse records them as they are.
        sparse = ["--sparse"] if self.sparse and git.version() >= (2, 34) else []
        proc = git.run(["add", "-u", "--ignore-errors", *sparse], self.root, env=self.env,
                       ok_codes=(0, 1))  # fmt: skip
        if proc.returncode == 0:
            return {}
        # It went past the files it could not add, which still differ from the index: a
        # file gone since (a deletion), back since, not readable or not a file (a FIFO).
        listing = git.run(["diff-files", "-z", "--name-only", "--ignore-submodules"],
                          self.root, env=self.env).stdout  # fmt: skip
        return self.add_paths(git.nul_split(listing))

    def add_paths(self, paths: Sequence[str]) -> dict[str, str]:
        """Stage ``paths`` as they are now: files and symbolic links added, paths that are
        gone removed. Returns those git cannot add (not readable, not a file), and why;
        they stay as the index has them.

        ``update-index`` stops at the first path it cannot add; that path is then looked
        at again: one that cannot be added is left out, one that is a directory now is
        passed over, one that changed meanwhile (deleted, or back again) is tried again,
        a few times.
        """
        todo = list(paths)
        left_out: dict[str, str] = {}
        retried: dict[str, int] = {}
        while todo:
            proc = git.run(["update-index", "--add", "--remove", "--replace", "-z", "--stdin"],
                           self.root, input=git.nul_join(todo), env=self.env,
                           check=False)  # fmt: skip
            if proc.returncode == 0:
                break
            culprit = _culprit(proc.stderr, todo)
            if culprit is not None and os.path.isdir(self.root / culprit):
                todo.remove(culprit)  # a directory now: its files are paths of their own
                continue
            why = None if culprit is None else why_git_cannot_add(self.root / culprit)
            if culprit is None or (why is None and retried.get(culprit, 0) >= _RETRIES):
                raise GitCommandError(["update-index", "--add"], proc.returncode,
                                      proc.stderr.decode(errors="replace"))  # fmt: skip
            if why is None:
                retried[culprit] = retried.get(culprit, 0) + 1
            else:
                left_out[culprit] = why
                todo.remove(culprit)
        return left_out

    def write_tree(self) -> str:
        return self._git(["write-tree"]).decode().strip()


def _in_context(function: Callable[_P, _T]) -> Callable[_P, _T]:
    """``function`` run in a copy of this thread's context (each call its own copy): the
    context carries the snapshot lock to git children started on another thread."""
    context = contextvars.copy_context()
    return functools.partial(context.run, function)


def _walk(root: Path) -> scan_cache.Walked | None:
    """The working tree's directories (None: too many to keep)."""
    try:
        return scan_cache.walk(root)
    except OverflowError:
        return None


def _culprit(stderr: bytes, paths: list[str]) -> str | None:
    """The path ``update-index`` stopped at (it names it raw, to the end of the line)."""
    text = stderr.decode(errors="surrogateescape")
    for path in paths:
        if f"fatal: Unable to process path {path}\n" in text:
            return path
    return None
