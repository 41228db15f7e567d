"""``dependencies.json`` of a run's context: the other working trees its code came from.

``pip install -e ../mylib`` (or a path on ``sys.path``) makes a run import code from
another git working tree, whose uncommitted edits are part of what ran. Every module
loaded from a file outside the Python installation, autocommit's own package and the
run's repository names the working tree holding it; each is listed with its path, remote
URL (without credentials), HEAD and dirty flag. Where autocommit is enabled there, its
exact working tree gets a pinned run commit, made exactly as the run's own (the daemon's
sync barrier or an in-process snapshot), which also gives HEAD and the dirty flag; where
it is not, ``git status`` gives them, nothing is written into it and the run gets one
warning saying how to enable it. A later run of the process reuses an entry while the
tree's stamp and the settings are unchanged. The stamp holds the generation of the tree's
inotify watch (:mod:`.tree_watch`: one read of its queue), or for a tree of at most
:data:`WATCH_FROM` entries, or one that cannot be watched, a ``stat`` walk
(:mod:`.tree_stamp`), the stat data of HEAD, the index, refs and config,
and of git's inputs outside the tree such as a global excludes file. Neither watches nor
walks the directories ``git status`` last found ignored as a whole (a virtualenv or build
directory inside the tree): git never looks into them, and they stay ignored while the
stamp (which holds the ignore files outside them, the index and git's inputs) is
unchanged.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from autocommit.gitio import git
from autocommit.notices import warn_once

if TYPE_CHECKING:
    from autocommit.gitio.git_inputs import Stat
    from autocommit.settings.config import Settings
    from autocommit.tracking.run_tags import Target
    from autocommit.tracking.tree_stamp import Stamp
    from autocommit.tracking.tree_watch import TreeWatch

    # the tree's stamp, and the stat data of git's inputs outside it (global ignores, …)
    _Stamps = tuple[Stamp, tuple[Stat, ...]]

_roots: dict[str, str | None] = {}  # directory → top of its working tree (None: none)
# by module name: the module object and Python's homes when looked at, and its tree; a
# later run looks again only at modules imported (or re-imported) since
_module_roots: dict[str, tuple[object, tuple[str, ...], str | None]] = {}
# what the last run found: the loaded modules, Python's homes and ``own_root`` then, and
# the trees; a run with the very same modules (compared in C) takes them as they are
_last_trees: tuple[list[tuple[str, Any]], tuple[str, ...], str, list[tuple[str, list[str]]]] | None
_last_trees = None
# by working tree: its stamp and settings when last described, and that entry
_seen: dict[Path, tuple[_Stamps, Settings | None, dict[str, Any]]] = {}
# by working tree: the directories (real paths) git ignored as a whole when last described
_ignored: dict[Path, frozenset[str]] = {}
_watches: dict[Path, TreeWatch] = {}  # by working tree
# Entries (files, directories, git's files) from which a tree is watched rather than
# stat'ed at every run: a process making runs in a small repository holds no inotify
# instance (a user has 128, shared with the daemons, editors and other tools).
WATCH_FROM = 1000


def dependencies_json(own_root: Path) -> bytes:
    """The text of ``dependencies.json`` for the modules loaded now."""
    entries = [_describe(Path(root), modules) for root, modules in imported_trees(own_root)]
    return (json.dumps(entries, indent=1, sort_keys=True) + "\n").encode()


def imported_trees(own_root: Path) -> list[tuple[str, list[str]]]:
    """``(working tree, top-level modules loaded from it)`` for each working tree other
    than ``own_root`` that a loaded module's file lives in, sorted by path."""
    global _last_trees
    homes = _python_homes()
    own = os.path.realpath(own_root)
    loaded = list(sys.modules.items())
    if _last_trees is not None and _last_trees[1:3] == (homes, own) and _last_trees[0] == loaded:
        return _last_trees[3]
    found: dict[str, set[str]] = {}
    for name, module in loaded:
        known = _module_roots.get(name)
        if known is None or known[0] is not module or known[1] != homes:
            known = (module, homes, _module_root(module, homes))
            _module_roots[name] = known
        root = known[2]
        if root is not None and root != own:
            found.setdefault(root, set()).add(name.partition(".")[0])
    trees = [(root, sorted(found[root])) for root in sorted(found)]
    _last_trees = (loaded, homes, own, trees)
    return trees


def _module_root(module: object, homes: tuple[str, ...]) -> str | None:
    """The working tree ``module`` was loaded from; None for the Python installation."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or not os.path.isabs(file):
        return None
    directory = os.path.dirname(file)
    if (directory + os.sep).startswith(homes):
        return None
    return _root_of(directory)


def _python_homes() -> tuple[str, ...]:
    """The Python installation, and autocommit itself (which records the run, and is not
    part of it, even when installed from a checkout); looked up again when ``sys.path``
    changed."""
    global _homes
    path = tuple(sys.path)
    if _homes is None or _homes[0] != path:
        homes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
        homes.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        homes.update(p for p in path if p.endswith(("site-packages", "dist-packages")))
        _homes = (path, tuple(os.path.realpath(home) + os.sep for home in homes if home))
    return _homes[1]


_homes: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # sys.path → Python's homes


def _root_of(directory: str) -> str | None:
    """The top of the working tree holding ``directory`` (real path), by ``.git``."""
    if directory in _roots:
        return _roots[directory]
    real = os.path.realpath(directory)
    parent = os.path.dirname(real)
    if os.path.lexists(os.path.join(real, ".git")):
        root: str | None = real
    elif parent == real:
        root = None
    else:
        root = _root_of(parent)
    _roots[directory] = root
    return root


def _describe(root: Path, modules: list[str]) -> dict[str, Any]:
    """The entry of ``root``: made anew only when its stamp changed since the last run of
    this process (or cannot be trusted), since describing it costs git processes or a
    snapshot."""
    from autocommit.tracking import run_tags

    target = run_tags.find_target(root)
    settings = None if target is None else target.settings
    skipped = _ignored.get(root)
    if skipped is None:  # the first time: asked of git before the stamp
        skipped = _ignored[root] = _git_state(root).ignored
    stamp = _stamp(root, skipped)  # taken before the entry: a change meanwhile misses next time
    seen = _seen.get(root)
    if stamp is not None and seen is not None and seen[:2] == (stamp, settings):
        return {**seen[2], "modules": modules}
    entry: dict[str, Any] = {"path": str(root), "remote": _remote_url(root)}
    state = _git_state(root)
    if target is None:
        entry.update(_unmanaged(root, state))
    else:
        entry.update(_pinned(root, target, state))
    _ignored[root] = state.ignored
    if stamp is not None and skipped == state.ignored and "error" not in entry:
        _seen[root] = (stamp, settings, entry)
    return {**entry, "modules": modules}


def _stamp(root: Path, skipped: frozenset[str] = frozenset()) -> _Stamps | None:
    from autocommit.gitio import git_inputs
    from autocommit.tracking import run_tags
    from autocommit.tracking.tree_stamp import git_stamp, too_large, tree_stamp

    try:
        worktree = run_tags.worktree_at(root)
        inputs = tuple(git_inputs.stat_of(path) for path in git_inputs.files(worktree))
    except Exception:  # described by git, which says what is wrong, at every run
        return None
    if root not in _watches:  # a small tree is stat'ed: no inotify instance for it
        stamp = tree_stamp(root, worktree.git_dir, worktree.common_dir, skipped)
        if stamp is not None and len(stamp) <= WATCH_FROM:
            return stamp, inputs
        if stamp is None and not too_large(root):
            return None  # changed in the last two seconds: described by git
    generation = _watch(root, skipped).current()
    if generation:  # watched: the tree changed since the last stamp only if this did
        files = git_stamp(worktree.git_dir, worktree.common_dir)
        watched = (f"{root} (watched)", generation, 0, 0, 0, 0, 0)
        stamp = None if files is None else (*files, watched)
    else:
        stamp = tree_stamp(root, worktree.git_dir, worktree.common_dir, skipped)
    return None if stamp is None else (stamp, inputs)


def _watch(root: Path, skipped: frozenset[str]) -> TreeWatch:
    """The inotify watch of the tree at ``root`` (:mod:`.tree_watch`), set anew when the
    directories git ignores changed (or in a forked child)."""
    from autocommit.tracking.tree_watch import TreeWatch

    watch = _watches.get(root)
    if watch is None or watch.skipped != skipped or not watch.mine:
        if watch is not None:
            watch.close()
        watch = _watches[root] = TreeWatch(str(root), skipped)
    return watch


def _unmanaged(root: Path, state: _GitState) -> dict[str, Any]:
    """The entry of a repository where autocommit is not enabled, and one warning."""
    warn_once(f"this run imports code from {root}, where autocommit is not enabled: "
              f"its uncommitted edits are not recorded (run `autocommit init` there "
              f"to record them)")  # fmt: skip
    return {"enabled": False, "head": state.head, "dirty": state.dirty, "commit": None}


@dataclass(frozen=True)
class _GitState:
    head: str | None
    dirty: bool
    ignored: frozenset[str]  # the directories ignored as a whole (real paths)


def _git_state(root: Path) -> _GitState:
    """HEAD, the dirty flag and the directories git ignores as a whole (which it never
    looks into), as ``git status`` sees them (one git process)."""
    status = git.run(["status", "--porcelain=v2", "-z", "--branch", "--untracked-files=normal",
                      "--ignored=matching"], root, check=False)  # fmt: skip
    head, dirty, ignored = None, False, set()
    records = iter(status.stdout.split(b"\0"))
    for record in records:
        if record.startswith(b"# branch.oid "):
            head = record.split()[2].decode()
        elif record.startswith(b"! ") and record.endswith(b"/"):
            ignored.add(os.path.join(root, os.fsdecode(record[2:-1])))
        elif record and not record.startswith((b"#", b"!")):
            dirty = True
            if record.startswith(b"2 "):
                next(records, None)  # a rename's original path
    return _GitState(head if head != "(initial)" else None, dirty, frozenset(ignored))


def _remote_url(root: Path) -> str | None:
    """The URL of ``origin`` (else the first remote), without a user name or password."""
    proc = git.run(["config", "--get-regexp", r"^remote\..*\.url$"], root, check=False)
    urls = dict(line.split(" ", 1) for line in proc.stdout.decode().splitlines() if " " in line)
    url = urls.get("remote.origin.url") or next(iter(urls.values()), None)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.netloc and "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return urlunsplit(parts)


def _pinned(root: Path, target: Target, state: _GitState) -> dict[str, Any]:
    """HEAD, the dirty flag and the pinned run commit of ``root``'s exact working tree,
    where autocommit is enabled, from the snapshot (as the run's own tags are)."""
    from autocommit.engine.run_pin import RunPin
    from autocommit.tracking import run_tags

    try:
        worktree = run_tags.worktree_at(target.root)
        with ThreadPoolExecutor(max_workers=1) as pool:
            run = RunPin(worktree, pool)
            snap = run_tags.snapshot_for_run(worktree, target.settings, run)
            run.ensure(snap)
    except Exception as exc:  # the run goes on; its context says what is missing
        warn_once(f"no snapshot of {root}, which this run imports code from: {exc}")
        return {"enabled": True, "head": state.head, "dirty": state.dirty, "commit": None,
                "error": f"{type(exc).__name__}: {exc}"}  # fmt: skip
    return {"enabled": True, "head": snap.head, "dirty": snap.dirty, "commit": run.commit}
