"""Getting a run's code back: in a new worktree (checkout), or in place (restore).

``checkout`` never touches the user's working tree: it adds a linked worktree with a
detached HEAD at the commit. ``restore`` is the one operation that writes the user's
files, and only after snapshotting and pinning the current tree so it can be undone.
Neither moves HEAD, changes a branch or writes the user's index: restore writes files
through a temporary index of its own, so staged changes stay staged.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from autocommit.engine.full_scan import PrivateIndex
from autocommit.engine.run_commit import run_commit
from autocommit.engine.snapshot import Snapshot, take_snapshot
from autocommit.errors import AutocommitError
from autocommit.gitio import git, refs
from autocommit.gitio.repo import Worktree
from autocommit.reproduce.resolve import Resolved
from autocommit.settings import config

GITLINK = "160000"
LOCK_TIMEOUT = 60.0
_ATTEMPTS = 3


def default_checkout_dir(worktree: Worktree, resolved: Resolved) -> Path:
    """``<parent>/<repo>-run-<id8>`` (or ``-<sha12>``) beside the repository, made unique."""
    label = f"run-{resolved.run_id[:8]}" if resolved.run_id else resolved.commit[:12]
    base = worktree.root.parent / f"{worktree.root.name}-{label}"
    candidate, n = base, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def checkout(worktree: Worktree, commit: str, directory: Path) -> Path:
    """A new worktree at ``directory`` with exactly ``commit``'s tree, HEAD detached there."""
    directory = directory.absolute()
    if os.path.lexists(directory) and (not directory.is_dir() or any(directory.iterdir())):
        raise AutocommitError(f"{directory} already exists", "pick another DIR, or remove it")
    git.run(["worktree", "add", "--detach", "--quiet", "--", str(directory), commit],
            worktree.root)  # fmt: skip
    return directory


@dataclass(frozen=True)
class RestoreResult:
    saved: Snapshot  # the working tree before the restore
    pinned: str  # its tree on top of HEAD (a run commit), pinned: what restores it
    target: str
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    submodules_left: list[str] = field(default_factory=list)  # gitlinks are not restored


@dataclass(frozen=True)
class _Plan:
    write: list[str]  # files of the target that differ from the current tree
    added: set[str]  # the ones of those not in the current tree at all
    remove: list[str]  # files of the current tree the target does not have
    submodules: list[str]


def restore(worktree: Worktree, target: str, lock_timeout: float = LOCK_TIMEOUT) -> RestoreResult:
    """Make the working tree ``target``'s tree, after saving (and pinning) the current one.

    Files of the target are written, snapshot files that are not in the target are
    removed; ignored files and files left out of snapshots (secrets, big files) are never
    touched, and the restore refuses to start when one of them is in the way.
    """
    settings = config.load(worktree.root)
    target_tree = git.out(["rev-parse", "--verify", "--end-of-options", f"{target}^{{tree}}"],
                          worktree.root)  # fmt: skip
    index = PrivateIndex(worktree)
    for _ in range(_ATTEMPTS):
        saved = take_snapshot(worktree, settings=settings, lock_timeout=lock_timeout)
        # Holding the snapshot lock keeps the daemon from snapshotting half-written files.
        with index.locked(lock_timeout):
            current = git.out(["write-tree"], worktree.root, env=index.env)
            if current != saved.tree:
                continue  # a snapshot ran in between: the tree moved on, save it again
            plan = _plan(worktree, saved.tree, target_tree)
            _check_nothing_lost(worktree, index, plan)
            # The restore point, only once nothing stands in the way: a refusal leaves no pin.
            pinned = run_commit(worktree, saved)  # keeps no earlier snapshot alive
            refs.pin(worktree.root, pinned, "autocommit: the working tree before a restore")
            _apply(worktree, target_tree, plan)
            return RestoreResult(saved, pinned, target, plan.write, plan.remove,
                                 plan.submodules)  # fmt: skip
    raise AutocommitError(
        "the working tree kept changing while restoring; nothing was restored",
        "stop whatever is writing files and run restore again",
    )


def _plan(worktree: Worktree, current_tree: str, target_tree: str) -> _Plan:
    raw = git.run(["diff-tree", "-r", "-z", "--no-renames", current_tree, target_tree],
                  worktree.root).stdout  # fmt: skip
    parts = git.nul_split(raw)
    plan = _Plan([], set(), [], [])
    for meta, path in zip(parts[0::2], parts[1::2], strict=True):
        old_mode, new_mode, _old, _new, status = meta.lstrip(":").split(" ")
        if GITLINK in (old_mode, new_mode):
            plan.submodules.append(path)
        elif status == "D":
            plan.remove.append(path)
        else:  # A, M, T: checkout-index replaces a file by a symlink and back
            plan.write.append(path)
            if status == "A":
                plan.added.add(path)
    return plan


def _check_nothing_lost(worktree: Worktree, index: PrivateIndex, plan: _Plan) -> None:
    """Refuse when restoring would overwrite or delete anything not in the saved snapshot.

    The private index holds the saved snapshot with fresh stat data, so ``diff-files``
    against it finds any file changed since; a path the snapshot does not have but the
    disk does is ignored or left out, and is never overwritten.
    """
    root = worktree.root
    changed = git.run(["diff-files", "-z", "--name-only"], root, env=index.env).stdout
    moved = sorted(set(git.nul_split(changed)) & (set(plan.write) | set(plan.remove)))
    if moved:
        raise AutocommitError(
            f"{moved[0]} changed while restoring; nothing was restored", "run restore again"
        )
    removed = set(plan.remove)
    for path in plan.write:
        for parent in _parents(path):
            info = _lstat(root / parent)
            if info is not None and not stat.S_ISDIR(info.st_mode) and parent not in removed:
                _refuse(parent, root)
        if path not in plan.added:
            continue
        if (root / path).is_dir() and not (root / path).is_symlink():
            for leftover in _files_under(root, path):
                if leftover not in removed:
                    _refuse(leftover, root)
        elif os.path.lexists(root / path):
            _refuse(path, root)


def _refuse(path: str, root: Path) -> None:
    kind = "directory" if (root / path).is_dir() else "file"
    raise AutocommitError(
        f"restoring would overwrite {path}, a {kind} that is ignored or left out of "
        "snapshots (so no snapshot could bring it back); nothing was restored",
        "move it out of the way and run restore again",
    )


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _files_under(root: Path, directory: str) -> list[str]:
    found: list[str] = []
    for dirpath, _dirs, files in os.walk(root / directory):
        found.extend(str(Path(dirpath, f).relative_to(root)) for f in files)
        found.extend(str(Path(dirpath, d).relative_to(root)) for d in _dirs
                     if Path(dirpath, d).is_symlink())  # fmt: skip
    return found


def _apply(worktree: Worktree, target_tree: str, plan: _Plan) -> None:
    root = worktree.root
    for path in sorted(plan.remove, key=lambda p: p.count("/"), reverse=True):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(root / path)
        _remove_empty_parents(root, path)
    if not plan.write:
        return
    scratch = worktree.state_dir / "restore.index"
    env = {"GIT_INDEX_FILE": str(scratch)}
    try:
        git.run(["read-tree", target_tree], root, env=env)
        git.run(["checkout-index", "-f", "-z", "--stdin"], root, env=env,
                input=git.nul_join(plan.write))  # fmt: skip
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)


def _remove_empty_parents(root: Path, path: str) -> None:
    for parent in reversed(_parents(path)):
        try:
            os.rmdir(root / parent)
        except OSError:
            return  # not empty (or already gone): stop, as git does
