"""The snapshot engine: working tree → tree → commit → shadow ref.

It knows nothing of the daemon or MLflow. Callers hand it the paths that changed (the
daemon, from file events) or nothing (a full scan), and get back the commit whose tree
is exactly the working tree: tracked files plus untracked, not-ignored files, minus the
reported exclusions.

A full scan stages everything into a private index (:mod:`autocommit.engine.full_scan`);
an incremental snapshot edits the previous snapshot's tree for the given paths only
(:mod:`autocommit.engine.incremental`), falling back to a full scan whenever that would not be
exact. Either way the result is committed onto the shadow branch with a
compare-and-swap, all under a per-worktree lock (:mod:`autocommit.engine.lock`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from autocommit.contract import HEAD_TRAILER, UNBORN
from autocommit.engine import scan_cache, snapshot_state
from autocommit.engine.diff_files import DiffFiles
from autocommit.engine.exclusions import ExclusionRules, Skipped
from autocommit.engine.full_scan import PrivateIndex, Staged
from autocommit.engine.incremental import IncrementalUpdate, NeedsFullScan
from autocommit.engine.kept_processes import GitPipes
from autocommit.engine.lock import snapshot_lock
from autocommit.engine.scan_cache import ScanCache
from autocommit.engine.snapshot_state import SnapshotState
from autocommit.errors import AutocommitError, GitCommandError
from autocommit.gitio import git, refs
from autocommit.gitio.commits import Identity, commit_text, remove_stale_texts
from autocommit.gitio.objects import (
    CommitInfo,
    ObjectReader,
    TreeEntry,
    TreeSource,
    diff_trees,
    empty_tree,
    object_id,
)
from autocommit.gitio.repo import Worktree
from autocommit.settings import config
from autocommit.settings.config import Settings

MAX_INCREMENTAL_PATHS = 2000
MAX_RESCANNED_PATHS = 500  # paths changed since the last walk; beyond, walk again
MAX_GUESSED_UNTRACKED = 2000  # untracked files remembered for the next full scan
STALE_REF_LOCK_AGE = 1.0  # seconds; update-ref holds a ref lock for a millisecond or so
_REF_ATTEMPTS = 50
SUMMARY_READ_LIMIT = 20000  # tree entries read to describe a change before asking git
_DESCRIBED_ENTRIES = 50_000  # tree entries kept by _DescribedTrees (a few MiB)
AUTOCOMMIT = Identity("autocommit", "autocommit@localhost")  # the committer of snapshots
CLEAN_SUMMARY = "clean: the snapshot is HEAD"


class Snapshot(NamedTuple):
    commit: str  # the snapshot: HEAD itself when the tree is clean
    tree: str
    head: str | None  # HEAD's commit when the snapshot was taken (None: no commits yet)
    head_ref: str | None  # refs/heads/<branch>, or None for a detached HEAD
    shadow_ref: str  # refs/autocommit/heads/<branch> (or the detached chain)
    dirty: bool  # the tree differs from HEAD's
    # A new commit was written on the shadow branch (for a clean tree: one holding HEAD's
    # tree, when the tip held another tree or HEAD moved).
    created: bool
    reconciled: bool  # the whole tree was scanned (not only the given paths)
    skipped: tuple[Skipped, ...]
    summary: str  # one line: what changed since the previous snapshot
    # One line: what changed since HEAD, for the run commit's message (None: not needed,
    # or not computed; the run commit then asks git).
    head_summary: str | None = None
    head_tree: str | None = None  # HEAD's tree, for the run's change summary (None: unknown)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the daemon's socket and ``--json`` output)."""
        data = self._asdict()
        data["skipped"] = [s._asdict() for s in self.skipped]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        fields = dict(data)
        fields["skipped"] = tuple(Skipped(**s) for s in data["skipped"])
        return cls(**fields)


def take_snapshot(
    worktree: Worktree,
    paths: Iterable[str | os.PathLike[str]] | None = None,
    settings: Settings | None = None,
    *,
    lock_timeout: float = 60.0,
    pipes: GitPipes | None = None,
    pin: Pinner | None = None,
) -> Snapshot:
    """Snapshot the working tree and advance its shadow branch.

    ``paths`` (relative to the top of the working tree) are the paths known to have
    changed since the previous snapshot: files, and directories that were created,
    deleted or moved (a directory stands for everything under it). None scans
    everything. Never touches the user's index, HEAD, branches, stash or files.
    ``pipes``: git processes kept between snapshots (made with ``kept=True``); by
    default each snapshot starts and ends its own. ``pin``: called with the snapshot
    about to be recorded, names a commit to keep alive (``refs/autocommit/pins/<sha>``),
    written with the snapshot and pinned in the same ref update that moves the shadow
    branch.
    """
    settings = settings or config.load_cached(worktree)  # its git config read serves below
    changed = None if paths is None else [str(p) for p in paths]
    try:
        with (
            snapshot_lock(worktree, lock_timeout),
            contextlib.nullcontext(pipes)
            if pipes
            else contextlib.closing(GitPipes(worktree)) as used,
        ):
            return _Snapshotter(worktree, settings, used, pin).take(changed)
    except GitCommandError as exc:
        raise _explain(exc, worktree) from exc
    except OSError as exc:
        raise AutocommitError(
            f"cannot write autocommit's files in {worktree.state_dir}: {exc.strerror or exc}",
            "free disk space or fix the permissions; nothing of yours was changed",
        ) from exc


_STORAGE_ERRORS = re.compile(
    r"No space left|Out of diskspace|insufficient permission|Read-only file system|"
    r"Permission denied|"
    r"unable to (write|create)|Disk quota",
    re.IGNORECASE,
)


def _explain(exc: GitCommandError, worktree: Worktree) -> AutocommitError:
    """A one-line error saying what to do, for the failures a user can fix."""
    if _STORAGE_ERRORS.search(exc.stderr):
        return AutocommitError(
            f"cannot write to the repository in {worktree.common_dir}: {exc.what}",
            "free disk space or fix the permissions; nothing of yours was changed",
        )
    return exc


def head_ref_of(worktree: Worktree) -> str | None:
    """``refs/heads/<branch>`` HEAD points to, or None when it is detached.

    Read from the HEAD file when it is a plain one (no process needed), else from git.
    """
    try:
        text = (worktree.git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    if text.startswith("ref: refs/") and text != "ref: refs/heads/.invalid":
        return text.removeprefix("ref: ")
    if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", text):
        return None
    proc = git.run(["symbolic-ref", "-q", "HEAD"], worktree.root, ok_codes=(0, 1))
    return proc.stdout.decode(errors="surrogateescape").strip() or None


class CommitToPin(NamedTuple):
    """A commit to keep alive, and its text when it is still to be written."""

    commit: str
    text: bytes | None = None
    also: tuple[CommitToPin, ...] = ()  # written and pinned with it (a run's context)


Pinner = Callable[["Snapshot", "bytes | None"], CommitToPin]
"""Names the commit to pin for a snapshot, given the snapshot's commit text when that
commit is about to be written (None: it exists already)."""


class _GitSettings(NamedTuple):
    file_mode: bool  # core.fileMode
    symlinks: bool  # core.symlinks
    sparse_checkout: bool  # core.sparseCheckout
    shared_repository: bool  # core.sharedRepository: git adjusts new objects' modes
    author: Identity  # the user when git knows them; the committer is autocommit


@functools.lru_cache(maxsize=8)
def _git_settings(worktree: Worktree, inputs: str) -> _GitSettings:
    """The git configuration a snapshot depends on, cached per configuration fingerprint
    (``inputs``) so a long-lived process notices a change of the repository's config."""
    del inputs
    found = config.git_config(worktree).checked()  # the settings' read, if files unchanged
    return _GitSettings(
        file_mode=_git_bool(found.get("core.filemode", "true")),
        symlinks=_git_bool(found.get("core.symlinks", "true")),
        sparse_checkout=_git_bool(found.get("core.sparsecheckout", "false")),
        shared_repository=found.get("core.sharedrepository", "umask").strip().lower()
        not in ("umask", "false", "no", "off", "0"),
        author=Identity.of(found.get("user.name", ""), found.get("user.email", ""), AUTOCOMMIT),
    )


def _git_bool(value: str) -> bool:
    return value.strip().lower() not in ("false", "no", "off", "0", "")


_WORDS = {"A": "add", "D": "delete", "M": "modify", "T": "retype", "R": "rename"}


def summarize(changes: Iterable[tuple[str, str]], *, in_path_order: bool = False) -> str:
    """One line for ``[(status, path)]``: how many files, naming the first three (with
    ``in_path_order``, the first three by path, however they were listed). Only those
    three are kept: a burst's snapshot lists tens of thousands."""
    count = 0
    first: list[tuple[str, str]] = []
    for change in changes:
        count += 1
        if len(first) < 3 or (in_path_order and change[1] < first[-1][1]):
            first.append(change)
            if in_path_order:
                first.sort(key=lambda kept: kept[1])
            del first[3:]
    if not count:
        return "no file changes"
    shown = ", ".join(f"{_WORDS.get(status, status)} {path}" for status, path in first)
    more = f" and {count - 3} more" if count > 3 else ""
    return f"{count} file{'s' if count != 1 else ''}: {shown}{more}"


def changes_since(worktree: Worktree, old_tree: str | None, new_tree: str
                  ) -> Iterator[tuple[str, str]]:  # fmt: skip
    """``(status, path)`` from ``old_tree`` (None: the empty tree) to ``new_tree``, as
    ``git diff-tree -r --no-renames --name-status`` lists them, one at a time."""
    if old_tree is None:
        old_tree = empty_tree(new_tree)
    args = ["diff-tree", "-r", "-z", "--no-renames", "--name-status", "--end-of-options"]
    out = git.run(
        [*args, old_tree, new_tree],
        worktree.root,
        # diff-tree reads the index though comparing two trees needs none: at 100k
        # files that is most of its time. An index file that does not exist is empty.
        env={"GIT_INDEX_FILE": str(worktree.state_dir / "no-index")},
    ).stdout
    for record in _DIFF_RECORD.finditer(out):
        yield record[1].decode(), record[2].decode(errors="surrogateescape")


_DIFF_RECORD = re.compile(rb"([^\0]+)\0([^\0]+)\0")  # status, path (-z --name-status)


_described: dict[str, dict[str, TreeEntry]] = {}  # trees by id, for every snapshot


class _DescribedTrees:
    """Trees read to describe a change from HEAD, kept for the process: in a notebook or
    a sweep HEAD's trees (packed, as a rule) are then read once, not with a ``cat-file``
    per run. Only their entries are used, never their presence in the object store, so
    a tree pruned since does no harm here (the engine's own reader forgets such trees)."""

    def __init__(self, reader: ObjectReader) -> None:
        self._reader = reader

    def tree(self, sha: str) -> dict[str, TreeEntry] | None:
        known = _described.get(sha)
        if known is not None:
            return dict(known)
        entries = self._reader.tree(sha)
        if entries is not None:
            if sum(len(e) for e in _described.values()) + len(entries) > _DESCRIBED_ENTRIES:
                _described.clear()
            _described[sha] = entries
        return entries


class _Snapshotter:
    def __init__(
        self,
        worktree: Worktree,
        settings: Settings,
        pipes: GitPipes,
        pin: Pinner | None,
    ) -> None:
        self.wt = worktree
        self.pin = pin
        self.root = worktree.root
        self.settings = settings
        self.pipes = pipes
        self.reader = pipes.reader
        self.rules = ExclusionRules(settings)
        self.index = PrivateIndex(worktree)
        self.diffing: DiffFiles | None = None  # git diff-files, when a full scan started it
        self.kept_cache: ScanCache | None = None  # the scan cache as read, when it was
        self.inputs = snapshot_state.inputs_fingerprint(worktree, settings)

    def take(self, changed: list[str] | None) -> Snapshot:
        # Trees and commits from Python unless git would give new objects other modes.
        self.pipes.loose.permit(not _git_settings(self.wt, self.inputs).shared_repository)
        self.index.remove_stale_lock()
        remove_stale_texts(self.wt.state_dir)
        head_ref = head_ref_of(self.wt)
        shadow = refs.shadow_ref(self.wt, head_ref)
        read_head, read_tip = self._ask_commits(head_ref, shadow)
        self.pipes.commits.start()  # their start-up overlaps with the scan
        self.pipes.refs.start()
        if changed is None:  # a full scan: likely without a walk, and then it waits for this
            self.diffing = self.index.start_diff_files()
        try:
            tree, skipped_map, reconciled = self.stage(changed)
        finally:
            if self.diffing is not None:
                self.diffing.cancel()  # a walk after all (or a failure)
        head = read_head()
        skipped = tuple(Skipped(p, r) for p, r in sorted(skipped_map.items()))
        head_sha = head.sha if head else None

        # A clean tree's snapshot is HEAD; the shadow tip still gets HEAD's tree (below),
        # so that it always holds the latest snapshot's tree.
        clean = head is not None and tree == head.tree

        def result(commit: str, created: bool, summary: str) -> Snapshot:
            if clean and head is not None:
                commit, summary = head.sha, CLEAN_SUMMARY
            # A run commit (HEAD as only parent) differs from a snapshot with an earlier one.
            for_run = self.pin is not None and tip is not None and not clean
            head_summary = self.head_summary(head, tree) if for_run else None
            return Snapshot(commit, tree, head_sha, head_ref, shadow, not clean, created,
                            reconciled, skipped, summary, head_summary,
                            head.tree if head else None)  # fmt: skip

        tip = read_tip()  # under the snapshot lock: no other snapshot of ours moved it since
        for _ in range(_REF_ATTEMPTS):
            if (
                tip is not None
                and tip.tree == tree
                and tip.trailers.get(HEAD_TRAILER) == (head_sha or UNBORN)
            ):
                return self._pinned(result(tip.sha, False, "unchanged since the last snapshot"))
            summary = self.summary(tip.tree if tip else head.tree if head else None, tree)
            if clean:  # in `autocommit log`: the chain is back at HEAD's tree
                summary = f"clean: {summary}"
            text = self.commit_text(tree, tip, head, summary, skipped)
            sha = object_id("commit", text, tree)
            snap = result(sha, True, summary)
            pins = self._pins_for(snap, None if clean else text)  # clean: HEAD exists
            self.pipes.commits.write([text, *(p.text for p in pins if p.text is not None)])
            if self._record(shadow, sha, tip.sha if tip else None, [p.commit for p in pins]):
                return snap
            tip = self._tip_after_failed_update(shadow)
        raise AutocommitError(
            f"{shadow} keeps moving or stays locked", "try again; nothing of yours was changed"
        )

    def _ask_commits(
        self, head_ref: str | None, shadow: str
    ) -> tuple[Callable[[], CommitInfo | None], Callable[[], CommitInfo | None]]:
        """HEAD's commit and the shadow tip, asked for now and read after the scan: git,
        when it has to be asked (packed refs and objects), looks them up meanwhile."""
        # The branch read above, not HEAD again: the user may be switching branches now.
        head = (refs.read_ref(self.wt, head_ref) if head_ref else None) or head_ref
        tip = refs.read_ref(self.wt, shadow) or shadow
        return self.reader.ask_commit(head or "HEAD"), self.reader.ask_commit(tip)

    def _pins_for(self, snap: Snapshot, text: bytes | None) -> list[CommitToPin]:
        """What the caller asks to pin for ``snap``, unless it is pinned already."""
        if self.pin is None:
            return []
        wanted = self.pin(snap, text)
        return [w for w in (wanted, *wanted.also) if not refs.pin_seen(self.wt, w.commit)]

    def _pinned(self, snap: Snapshot) -> Snapshot:
        """``snap`` (an existing commit), with what the caller asks pinned."""
        pins = self._pins_for(snap, None)
        texts = [p.text for p in pins if p.text is not None]
        if texts:
            self.pipes.commits.write(texts)
        if pins:
            self.pipes.refs.pin([p.commit for p in pins])
        return snap

    def _record(self, shadow: str, commit: str, old: str | None, pins: list[str]) -> bool:
        """Move ``shadow`` to ``commit`` unless it moved from ``old``; pin with it."""
        if self._has_reflog(shadow):
            return self.pipes.refs.swap_and_pin(shadow, commit, old, pins)
        message = refs.SNAPSHOT_MESSAGE
        if not refs.compare_and_swap(self.root, shadow, commit, old, message):
            return False
        if pins:  # the branch's first snapshot: its reflog is created above
            self.pipes.refs.pin(pins)
        return True

    def _has_reflog(self, ref: str) -> bool:
        return (self.wt.common_dir / "logs" / ref).is_file()

    def stage(self, changed: list[str] | None) -> tuple[str, dict[str, str], bool]:
        """The working tree's tree, the files left out, and whether it was a full scan."""
        state = snapshot_state.load(self.wt)
        inputs = self.inputs
        if (
            changed is not None
            and len(changed) <= MAX_INCREMENTAL_PATHS
            and state is not None
            and state.inputs == inputs
            and (same := self._with_the_same_index(state)) is not None
        ):
            state = same
            try:
                tree, skipped = IncrementalUpdate(self.root, self.pipes, state, self.rules).run(
                    changed
                )
            except NeedsFullScan:
                pass
            else:
                snapshot_state.save(self.wt, state._replace(tree=tree, skipped=skipped))
                return tree, skipped, False
        return (*self.full_scan(inputs, state), True)

    def _with_the_same_index(self, state: SnapshotState) -> SnapshotState | None:
        """``state`` with the user's index's stat data now, when that index tracks what
        it tracked at the last full scan; None when it may track something else.

        A changed index may track other paths (``git add``, ``git rm --cached``), which
        needs a full scan; but ``git status`` and IDEs rewrite it only to refresh stat
        data. When the last full scan recorded what the index tracked, that is compared
        (one ``ls-files``, far cheaper than a scan) and the new stat data kept.
        """
        index_stat = snapshot_state.stat_key(self.wt.git_dir / "index")
        if state.index_stat == index_stat:
            return state
        if state.index_digest is None or index_stat is None:
            return None
        if snapshot_state.index_digest(self.root).digest != state.index_digest:
            return None
        # The stat data read before the digest: a change made meanwhile is seen next time.
        return state._replace(index_stat=index_stat)

    def full_scan(self, inputs: str, state: SnapshotState | None) -> tuple[str, dict[str, str]]:
        index_stat = snapshot_state.stat_key(self.wt.git_dir / "index")
        self.pipes.after_full_scan()
        if self.diffing is not None:  # likely a scan without a walk, which hashes what changed:
            self.pipes.blobs.start()  # git starts while diff-files runs
        core = _git_settings(self.wt, self.inputs)
        self.index.sparse = core.sparse_checkout
        same = None
        if state is not None and state.inputs == inputs:
            same = self._with_the_same_index(state)
        staged = None if same is None else self._rescan(same)
        if staged is None:
            self.index.reseed_from_user_index()
            staged = self.index.stage_everything(
                self.rules, state.untracked if state else (), digest_seed=True
            )
        else:
            assert same is not None
            index_stat = same.index_stat  # tracks the same as when the seed was copied
        # Saved before the shadow ref moves: a crash in between leaves a state that still
        # describes the working tree, so the next incremental snapshot stays exact.
        untracked = staged.untracked if len(staged.untracked) <= MAX_GUESSED_UNTRACKED else []
        digest = staged.seed_digest
        kept = SnapshotState(
            staged.tree, inputs, index_stat, staged.left_out,
            file_mode=core.file_mode, symlinks=core.symlinks, untracked=untracked,
            index_digest=digest.digest if digest else state.index_digest if state else None,
            flagged=digest.flagged if digest else state.flagged if state else None,
        )  # fmt: skip
        snapshot_state.save(self.wt, kept)
        # The cache after the state: a crash in between leaves the old cache, which no
        # longer matches the private index a walk rewrote (and after a scan without a
        # walk, it finds again at least what the new one would have).
        if staged.cache is None:
            scan_cache.forget(self.wt.state_dir)
        elif staged.cache is not self.kept_cache:  # at 1M files, 4 MB not written again
            scan_cache.save(self.wt.state_dir, staged.cache)
        return staged.tree, staged.left_out

    def _rescan(self, state: SnapshotState) -> Staged | None:
        """A full scan without a walk (:mod:`autocommit.engine.scan_cache`): the previous
        snapshot's tree (``state``, whose inputs and index are still the tree's) edited
        along the paths that may have changed since the last walk (None: walk everything)."""
        cache = scan_cache.load(self.wt.state_dir)
        if cache is None or not self.index.usable(cache):
            return None
        now = scan_cache.touch_marker(self.wt.state_dir)  # before any directory is looked at
        if scan_cache.walk_again(cache, now):
            return None
        diffing, self.diffing = self.diffing, None
        if diffing is None:
            return None
        found = self.index.changed_since(cache, diffing, now)
        if found is None:
            return None
        paths, new_cache = found
        if len(paths) > MAX_RESCANNED_PATHS:
            return None
        paths = sorted({*paths, *state.skipped})  # left out before: maybe not any more
        if len(paths) > MAX_INCREMENTAL_PATHS:
            return None
        try:
            tree, skipped = IncrementalUpdate(self.root, self.pipes, state, self.rules).run(paths)
        except NeedsFullScan:
            return None
        # Kept only now: a scan that walks after all does so without the old cache (at 1M
        # files its 50k directories take about as much memory as the walk's own).
        self.kept_cache = cache
        return Staged(tree, skipped, state.untracked, None, new_cache)

    def summary(self, old_tree: str | None, new_tree: str) -> str:
        """One line: how many files changed since ``old_tree``, naming the first three."""
        return summarize(self._changes(old_tree, new_tree))

    def head_summary(self, head: CommitInfo | None, new_tree: str) -> str:
        """The same since HEAD's tree, in path order: the run commit's subject, which must
        come out the same whichever way the changes were listed."""
        old_tree = head.tree if head else None
        changes = self._changes(old_tree, new_tree, _DescribedTrees(self.reader))
        return summarize(changes, in_path_order=True)

    def _changes(
        self, old_tree: str | None, new_tree: str, source: TreeSource | None = None
    ) -> Iterable[tuple[str, str]]:
        source = source or self.reader
        changes = diff_trees(source, old_tree, new_tree, limit=SUMMARY_READ_LIMIT)
        if changes is None:  # a big change: git lists it faster
            return changes_since(self.wt, old_tree, new_tree)
        return changes

    def commit_text(
        self,
        tree: str,
        tip: CommitInfo | None,
        head: CommitInfo | None,
        summary: str,
        skipped: tuple[Skipped, ...],
    ) -> bytes:
        """A snapshot commit: parents are the previous snapshot and, when it moved, HEAD.
        Authored by the user (as git knows them), committed by autocommit."""
        parents = [tip.sha] if tip else []
        if head is not None and (tip is None or tip.trailers.get(HEAD_TRAILER) != head.sha):
            parents.append(head.sha)
        message = f"autocommit: {summary}\n\n{HEAD_TRAILER}: {head.sha if head else UNBORN}\n"
        message += "".join(s.trailer() + "\n" for s in skipped)
        now = time.time()
        author = _git_settings(self.wt, self.inputs).author
        return commit_text(tree, parents, author.line(now), AUTOCOMMIT.line(now), message)

    def _tip_after_failed_update(self, shadow: str) -> CommitInfo | None:
        """The shadow tip after a failed compare-and-swap, once any stale ref lock is gone.

        Under the snapshot lock no earlier snapshot of this worktree is still running, but
        other tools may update the ref for a moment; a lock older than that is stale.
        """
        lock = self.wt.common_dir / (shadow + ".lock")
        try:
            age = time.time() - os.stat(lock).st_mtime
        except FileNotFoundError:
            age = None
        if age is not None and age > STALE_REF_LOCK_AGE:
            os.unlink(lock)
        elif age is not None:
            time.sleep(0.05)
        proc = git.run(["rev-parse", "-q", "--verify", shadow + "^{commit}"], self.root,
                       ok_codes=(0, 1))  # fmt: skip
        sha = proc.stdout.decode().strip()
        return self.reader.commit(sha) if sha else None
