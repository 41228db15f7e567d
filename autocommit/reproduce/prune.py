"""Pruning: drop old unpinned snapshots, keep every pinned run's code, reclaim the space.

A run is pinned on its run commit (:mod:`autocommit.engine.run_commit`): the snapshot's tree
with HEAD as its only parent, off the shadow chain, so it keeps its own tree and the
user's history and no snapshot of the chain (so do ``autocommit snapshot --pin`` and a
restore point). A pin that sits on a chain (pinned before run commits existed, a chain's
first snapshot used as is, a restore point of an older version) keeps that snapshot and,
through its first parent, every older snapshot of the chain.

So after pruning, each shadow chain is three parts, newest first: the tip and every
snapshot made at or after the cutoff; a gap where the unpinned snapshots older than the
cutoff were; and the snapshots some pin (or some ref of the user's) needs, as they are.
The newer part is re-created on top of the kept part with the same trees, messages and
dates (re-parented with the engine's parent rules, so ``git merge-base --is-ancestor
HEAD <snapshot>`` still holds). Re-creating is deterministic, so two refs of one chain
(a fetched copy) end up at the same commits.

Then autocommit's own reflogs drop the old tips, and git reclaims the space the way
``git gc`` would, honouring ``gc.pruneExpire`` (default two weeks): unreachable objects
younger than that stay, which is also what protects a git command running at the same
time. Like ``git gc`` it rewrites the commit-graph and keeps the multi-pack-index and
bitmaps it found (:mod:`autocommit.gitio.object_store`), so none names a deleted object.
Unlike ``git gc`` it never expires the user's reflogs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from autocommit import contract
from autocommit.contract import HEAD_TRAILER, UNBORN
from autocommit.engine import snapshot_state
from autocommit.engine.full_scan import PrivateIndex
from autocommit.errors import AutocommitError
from autocommit.gitio import git, object_store, refs
from autocommit.gitio.repo import Worktree, find_worktree

LOCK_TIMEOUT = 60.0
DEFAULT_PRUNE_EXPIRE = "2.weeks.ago"
_NOT_OURS = ("--exclude=refs/autocommit/*", "--all")  # the user's refs and every HEAD
_FIELD, _RECORD = "\x1f", "\x1e"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ChainCommit:
    sha: str
    parents: tuple[str, ...]
    time: int
    head: str | None  # the Autocommit-Head trailer (None: HEAD was unborn)


@dataclass
class ChainResult:
    ref: str
    snapshots: int  # in the chain before pruning (its part outside the user's history)
    dropped: int
    kept_for_pins: int  # snapshots older than the cutoff that a pin on the chain needs
    rewritten: int  # newer snapshots re-created above the gap
    old_tip: str
    new_tip: str  # "" in a dry run when the tip would be re-created
    pins_on_chain: int  # pinned snapshots of this chain (run commits are off the chains)
    applied: bool = False


@dataclass
class PruneReport:
    dry_run: bool
    cutoff: float
    chains: list[ChainResult] = field(default_factory=list)
    unpinned: list[str] = field(default_factory=list)  # pins of runs deleted in MLflow
    pins_kept: int = 0
    objects_unreachable: int = 0  # objects that only dropped snapshots used
    bytes_unreachable: int = 0  # their size on disk
    objects_removed: int = 0  # of those, how many are gone now
    bytes_before: int = 0  # the repository's object storage, before and after
    bytes_after: int = 0
    prune_expire: str = DEFAULT_PRUNE_EXPIRE
    skipped: list[str] = field(default_factory=list)  # chains that moved meanwhile

    @property
    def snapshots_dropped(self) -> int:
        return sum(c.dropped for c in self.chains)

    @property
    def bytes_freed(self) -> int:
        return max(0, self.bytes_before - self.bytes_after)


def prune(
    worktree: Worktree,
    cutoff: float,
    *,
    dry_run: bool = False,
    unpin_deleted_runs: bool = False,
    tracking_uri: str | None = None,
    progress: Progress = lambda _: None,
) -> PruneReport:
    """Drop unpinned snapshots committed before ``cutoff`` (unix seconds); see the module."""
    root = worktree.root
    report = PruneReport(dry_run, cutoff, prune_expire=_prune_expire(root))
    with contextlib.ExitStack() as locks:
        if not dry_run:  # no snapshot may run while chains are rewritten
            locks.enter_context(_all_snapshot_locks(worktree))
        pins = set(refs.list_refs(root, contract.PIN_PREFIX).values())
        if unpin_deleted_runs:
            progress("asking MLflow which runs were deleted")
            report.unpinned = sorted(_pins_of_deleted_runs(pins, tracking_uri))
        kept_pins = pins - set(report.unpinned)
        report.pins_kept = len(kept_pins)
        progress("reading shadow branches")
        plan = _plan(root, kept_pins, cutoff, dry_run)
        report.chains = plan.results
        progress("counting what the dropped snapshots alone use")
        engine_trees = _engine_trees(worktree)
        unreachable = _unreachable_objects(root, plan, kept_pins | engine_trees)
        report.objects_unreachable = len(unreachable)
        report.bytes_unreachable = _disk_size(root, unreachable)
        report.bytes_before = report.bytes_after = _storage_bytes(root)
        if dry_run:
            return report
        for sha in report.unpinned:
            refs.unpin(root, sha)
        report.skipped = _move_chains(root, report.chains, progress)
        _expire_reflogs(root, list(plan.chains), cutoff)
        if not _is_short(root, report.prune_expire):
            locks.close()  # git's grace period protects concurrent writers from here on
        if unreachable:
            _reclaim(worktree, unreachable, report.prune_expire, sorted(engine_trees), progress)
    report.objects_removed = len(unreachable) - len(_existing(root, unreachable))
    report.bytes_after = _storage_bytes(root)
    return report


# -- reading ------------------------------------------------------------------------------


def _chain_refs(root: Path) -> dict[str, str]:
    """Every shadow chain: this machine's branches, detached HEADs, and fetched copies."""
    return {r: s for r, s in refs.list_refs(root).items() if not r.startswith(contract.PIN_PREFIX)}


def _read_chain(root: Path, tip: str) -> list[ChainCommit]:
    """The chain's snapshots, newest first, down to the user's history."""
    fmt = _RECORD + _FIELD.join(["%H", "%P", "%ct", f"%(trailers:key={HEAD_TRAILER},valueonly)"])
    out = git.out(["rev-list", "--first-parent", "--no-commit-header", f"--format={fmt}", tip,
                   "--not", *_NOT_OURS], root)  # fmt: skip
    found: list[ChainCommit] = []
    for record in out.split(_RECORD)[1:]:
        sha, parents, ctime, head = record.split(_FIELD)
        value = head.strip().splitlines()[-1] if head.strip() else ""
        if value != UNBORN and not contract.OBJECT_ID.fullmatch(value):
            break  # not a snapshot (or a trailer someone made up): the chain ends here
        found.append(ChainCommit(sha, tuple(parents.split()), int(ctime),
                                 None if value == UNBORN else value))  # fmt: skip
    return found


def _pins_of_deleted_runs(pins: set[str], tracking_uri: str | None) -> set[str]:
    """Pinned commits whose runs are all deleted (a pin no run refers to is kept)."""
    from autocommit.tracking import store as tracking

    runs = tracking.runs_by_commit(tracking_uri)
    return {sha for sha in pins if runs.get(sha) and all(r.deleted for r in runs[sha])}


# -- planning -----------------------------------------------------------------------------


def _young_part(commits: list[ChainCommit], cutoff: float) -> int:
    """How many snapshots, from the tip down, stay on their own: the tip and everything
    down to the oldest one made at or after the cutoff (older ones among them, made while
    the clock was behind, stay too)."""
    young = [i for i, commit in enumerate(commits) if commit.time >= cutoff]
    return max(young, default=0) + 1


def _needed(root: Path, pins: set[str], chains: dict[str, list[ChainCommit]],
            young: dict[str, int]) -> set[str]:  # fmt: skip
    """Commits outside the user's history that pins, or the young snapshots' other parents
    and HEADs, reach. On a chain that is always its oldest snapshots: a snapshot's first
    parent is the one before it."""
    roots = set(pins)
    for ref, commits in chains.items():
        listed = {c.sha for c in commits}
        for commit in commits[: young[ref]]:
            roots.update(p for p in commit.parents if p not in listed)
            if commit.head:
                roots.add(commit.head)
    if not roots:
        return set()
    query = "".join(f"{sha}\n" for sha in sorted(roots)).encode()
    out = git.out(["rev-list", "--stdin", "--not", *_NOT_OURS], root, input=query)
    return set(out.split())


@dataclass
class _Plan:
    chains: dict[str, list[ChainCommit]]  # by ref, newest first
    drops: dict[str, set[str]]  # by ref
    rewritten: dict[str, str]  # old sha -> the re-created snapshot
    results: list[ChainResult]


def _plan(root: Path, pins: set[str], cutoff: float, dry_run: bool) -> _Plan:
    """What goes and what is re-created, per chain (a dry run writes no commit)."""
    chains = {ref: _read_chain(root, tip) for ref, tip in _chain_refs(root).items()}
    young = {ref: _young_part(commits, cutoff) for ref, commits in chains.items()}
    needed = _needed(root, pins, chains, young)
    plan = _Plan(chains, {}, {}, [])
    for ref, commits in chains.items():
        if not commits:
            continue
        top, older = commits[: young[ref]], commits[young[ref] :]
        first_needed = next((i for i, c in enumerate(older) if c.sha in needed), len(older))
        kept, drop = older[first_needed:], {c.sha for c in older[:first_needed]}
        plan.drops[ref] = drop
        new_tip = commits[0].sha
        rewritten: dict[str, str] = {}
        if drop:
            base = kept[0] if kept else None
            rewritten = _recreate(root, top, base, dry_run)
            new_tip = "" if dry_run else rewritten[new_tip]
        plan.rewritten.update(rewritten)
        on_chain = len(pins & {c.sha for c in commits})
        plan.results.append(ChainResult(ref, len(commits), len(drop), len(kept), len(rewritten),
                                        commits[0].sha, new_tip, on_chain))  # fmt: skip
    return plan


def _recreate(root: Path, top: list[ChainCommit], base: ChainCommit | None,
              dry_run: bool) -> dict[str, str]:  # fmt: skip
    """Re-create ``top`` (newest first) on ``base`` (None: on HEAD alone), oldest first;
    returns ``{old sha: new sha}`` (stand-ins in a dry run)."""
    rewritten: dict[str, str] = {}
    previous, previous_new = base, base.sha if base else None
    for commit in reversed(top):
        # Its first parent is the snapshot below it, which goes or is re-created.
        parents = [previous_new] if previous_new else []
        parents += [p for p in commit.parents[1:] if p not in parents]
        head_reached = previous is not None and previous.head == commit.head
        if commit.head and commit.head not in parents and not head_reached:
            parents.append(commit.head)  # keep HEAD an ancestor, as the engine does
        new = f"(new {commit.sha})" if dry_run else _recommit(root, commit.sha, parents)
        rewritten[commit.sha] = new
        previous, previous_new = commit, new
    return rewritten


def _recommit(root: Path, sha: str, parents: list[str]) -> str:
    """``sha`` with other parents: same tree, author, committer, dates and message."""
    raw = git.run(["cat-file", "commit", sha], root).stdout
    header, _, message = raw.partition(b"\n\n")
    lines = header.split(b"\n")
    kept: list[bytes] = [lines[0]]  # tree
    kept += [b"parent " + p.encode() for p in parents]
    in_signature = False
    for line in lines[1:]:
        if line.startswith(b" ") and in_signature:
            continue
        in_signature = line.startswith((b"gpgsig", b"gpgsig-sha256"))
        if not line.startswith(b"parent ") and not in_signature:
            kept.append(line)
    body = b"\n".join(kept) + b"\n\n" + message
    return git.out(["hash-object", "-t", "commit", "-w", "--stdin"], root, input=body)


# -- counting -----------------------------------------------------------------------------


def _unreachable_objects(root: Path, plan: _Plan, keep_roots: set[str]) -> set[str]:
    """Objects only the dropped snapshots (and the replaced commit objects) use."""
    kept_as_is: set[str] = set()
    keep = set(keep_roots)
    for ref, commits in plan.chains.items():
        for commit in commits:
            if commit.sha in plan.drops.get(ref, ()):
                continue
            if commit.sha in plan.rewritten:  # its copy keeps the tree and the other parents
                keep.add(f"{commit.sha}^{{tree}}")
                keep.update(commit.parents)
            else:
                kept_as_is.add(commit.sha)
    # A commit another ref (a fetched copy of a chain) keeps as it is does not go.
    gone = set().union(*plan.drops.values(), plan.rewritten) - kept_as_is
    if not gone:
        return set()
    keep |= kept_as_is
    query = "".join(f"{sha}\n" for sha in sorted(gone))
    query += "".join(f"^{sha}\n" for sha in sorted(keep - gone))
    # Aggressive edges: every excluded commit's tree counts as kept, not only the trees
    # of the parents of what goes (a pinned run commit is no such parent).
    args = ["rev-list", "--objects-edge-aggressive", "--no-object-names", "--stdin",
            "--not", "--indexed-objects", *_NOT_OURS]  # fmt: skip
    out = git.out(args, root, input=query.encode())
    return {sha for sha in out.split() if not sha.startswith("-")}  # "-<sha>": an edge


def _disk_size(root: Path, objects: set[str]) -> int:
    if not objects:
        return 0
    query = "".join(f"{sha}\n" for sha in sorted(objects)).encode()
    out = git.out(["cat-file", "--batch-check=%(objectsize:disk)"], root, input=query)
    return sum(int(n) for n in out.split() if n.isdigit())


def _existing(root: Path, objects: set[str]) -> set[str]:
    if not objects:
        return set()
    ordered = sorted(objects)
    query = "".join(f"{sha}\n" for sha in ordered).encode()
    out = git.out(["cat-file", "--batch-check=%(objectname)"], root, input=query)
    return {sha for sha, line in zip(ordered, out.splitlines(), strict=True) if line == sha}


def _storage_bytes(root: Path) -> int:
    """Loose objects, packs and garbage, as ``git count-objects -v`` counts them."""
    found = dict(
        line.split(": ", 1) for line in git.out(["count-objects", "-v"], root).splitlines()
    )
    return 1024 * sum(int(found.get(k, "0")) for k in ("size", "size-pack", "size-garbage"))


# -- changing -----------------------------------------------------------------------------


def _worktrees(worktree: Worktree) -> list[Worktree]:
    """Every working tree of the repository whose directory still exists."""
    listing = git.out(["worktree", "list", "--porcelain"], worktree.root)
    found = []
    for line in sorted(listing.splitlines()):
        if not line.startswith("worktree "):
            continue
        path = Path(line.removeprefix("worktree "))
        try:
            found.append(worktree if path == worktree.root else find_worktree(path))
        except AutocommitError:
            continue  # its directory is gone: it runs no snapshots
    return found


@contextlib.contextmanager
def _all_snapshot_locks(worktree: Worktree) -> Iterator[None]:
    """The snapshot lock of every working tree of the repository (each writes its chain)."""
    with contextlib.ExitStack() as stack:
        for other in _worktrees(worktree):
            stack.enter_context(PrivateIndex(other).locked(LOCK_TIMEOUT))
        yield


def _engine_trees(worktree: Worktree) -> set[str]:
    """The tree each working tree's next incremental snapshot starts from.

    The engine saves it before moving the shadow ref, so after a crash it may be in no
    commit; it is kept alive like a ref.
    """
    trees = set()
    for other in _worktrees(worktree):
        state = snapshot_state.load(other)
        if state is not None and state.tree:
            trees.add(state.tree)
    return _existing(worktree.root, trees)


def _move_chains(root: Path, chains: list[ChainResult], progress: Progress) -> list[str]:
    """Point each rewritten chain at its new tip; returns the refs that moved meanwhile."""
    moved = []
    for chain in chains:
        if chain.new_tip == chain.old_tip:
            continue
        chain.applied = refs.compare_and_swap(root, chain.ref, chain.new_tip, chain.old_tip,
                                              "autocommit: prune")  # fmt: skip
        if chain.applied:
            progress(f"{chain.ref}: dropped {chain.dropped} snapshots")
        else:
            moved.append(chain.ref)
    return moved


def _expire_reflogs(root: Path, chain_refs: list[str], cutoff: float) -> None:
    """Only autocommit's own reflogs: old entries, and entries of rewritten history."""
    with_logs = [
        ref for ref in chain_refs
        if git.run(["reflog", "exists", ref], root, check=False).returncode == 0
    ]  # fmt: skip
    if not with_logs:
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(cutoff))
    git.run(["reflog", "expire", f"--expire={stamp}", "--expire-unreachable=now", "--rewrite",
             *with_logs], root)  # fmt: skip


def _prune_expire(root: Path) -> str:
    proc = git.run(["config", "gc.pruneExpire"], root, check=False)
    return proc.stdout.decode().strip() or DEFAULT_PRUNE_EXPIRE


def _is_short(root: Path, expire: str) -> bool:
    """Whether ``expire`` leaves less than an hour of grace to concurrent writers."""
    if expire == "never":
        return False
    proc = git.run(["rev-parse", f"--since={expire}"], root, check=False)
    text = proc.stdout.decode().strip().removeprefix("--max-age=")
    return not text.isdigit() or time.time() - int(text) < 3600


def _reclaim(worktree: Worktree, objects: set[str], expire: str, keep_trees: list[str],
             progress: Progress) -> None:  # fmt: skip
    """Delete the unreachable objects older than ``expire``, leaving what git keeps about
    the store (commit-graph, multi-pack-index, bitmaps) naming only objects that exist."""
    if expire == "never":
        progress("gc.pruneExpire is never: unreachable objects are kept")
        return
    root, store = worktree.root, object_store.objects_dir(worktree)
    indexes = object_store.present(store)
    if indexes.any_commit_graph:
        # Before any commit goes: a graph naming a missing commit breaks fsck and log.
        progress("rewriting the commit-graph")
        object_store.rewrite_commit_graph(root, indexes)
    if any(not (store / sha[:2] / sha[2:]).exists() for sha in objects):
        progress("repacking (some dropped objects are in packs)")
        keep = object_store.repack_options(indexes, all_into_one=True)
        git.run(["repack", "-d", "-l", "-A", "-q", f"--unpack-unreachable={expire}", *keep], root)
    progress(f"removing unreachable objects older than {expire}")
    git.run(["prune", f"--expire={expire}", "--", *keep_trees], root)
