"""``data.json`` of a run's context: a fingerprint of every file ``data_paths`` names.

Datasets are ignored by git or over the size cap, so two runs with the same code but a
changed ``data/train.csv`` would look the same. Each file matched by the gitignore-style
patterns of ``data_paths`` (inside the repository) is listed with its size, modification
time and git blob id (so a file committed later matches), computed in Python without a
filter. Ids are cached in the state directory by (device, inode, size, mtime): a run
re-reads only the files that changed. Files over :data:`FULL_HASH_LIMIT` are fingerprinted
by size and time alone (``"blob": null``, ``"fingerprint"`` says why); so are
secret-looking names and files only their owner may read (as snapshots leave them out:
not even their hash is recorded).

A run reads at most :data:`HASH_BUDGET` bytes of files whose id it does not know yet,
smallest first (always one file, so that every file gets its turn): the first run in a
repository holding many gigabytes of data does not wait for all of them. The files left
over are listed by size and time, marked ``"hash pending"``, and hashed by the next runs.

The walk never enters ``.git``, virtualenvs (a directory holding ``pyvenv.cfg``), other
repositories, caches or ``mlruns/``, and never follows a symbolic link: a link is listed
with its target, whose content stays unread. It enters only the directories that can hold
a matching file: a pattern with a ``/`` before its end is anchored to the top of the
repository, so ``/data/`` or ``inputs/*.csv`` keep it to ``data/`` or ``inputs/``; a bare
name (``data/``, ``*.csv``) matches at any depth, and then every directory is walked. A
process keeps each directory's listing while the directory's inode and times stay the
same, and the walk's answer while no name was added, removed or renamed in any directory
it went through: those directories are watched (:mod:`.tree_watch`, names only), so a
later run reads the watch and ``stat``s only the files found. Past the watch budget, it
``stat``s each of those directories instead, in one loop. A walk through a directory
changed in the last two seconds is not kept.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pathspec

from autocommit.engine.exclusions import ExclusionRules
from autocommit.gitio.objects import file_blob_id
from autocommit.gitio.repo import Worktree
from autocommit.notices import warn_once
from autocommit.settings.config import Settings
from autocommit.state_files import ensure_dir, write_atomically

if TYPE_CHECKING:
    from autocommit.tracking.tree_watch import TreeWatch

FULL_HASH_LIMIT = 2 * 1024**3  # bytes: larger files get size and time only
HASH_BUDGET = 512 * 1024**2  # bytes read per run, at least one file (~0.3-1 s of SHA-1)
OVER_LIMIT = "size+mtime (over the hash limit)"
PENDING = "size+mtime (hash pending: over this run's hashing budget)"
CACHE_FILE = "data-hashes.json"
_SETTLED_NS = 2_000_000_000  # a file changed this recently may change again unseen
_NEVER_WALKED = frozenset({
    ".git", "node_modules", "__pycache__", "mlruns", "mlartifacts", "wandb", "site-packages",
    ".venv", "venv", ".tox", ".nox", ".cache", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".ipynb_checkpoints", ".dvc",
})  # fmt: skip

_Cached = tuple[int, int, int, int, str]  # device, inode, size, mtime (ns), blob id


@dataclass
class _Cache:
    entries: dict[str, _Cached]
    stamp: tuple[int, int] | None  # the cache file's (inode, mtime) when read
    changed: bool = False


_caches: dict[Path, _Cache] = {}  # by cache file, for the life of the process
_Listing = tuple[tuple[tuple[str, bool], ...], bool]  # (name, is a directory)…, foreign
_listings: dict[str, tuple[tuple[int, int, int, int], _Listing]] = {}  # by directory
_Step = tuple[list[str], list[tuple[str, bool]]]  # files matched, directories to walk
# by (directory, patterns, matched as a whole): the listing it was worked out from, and it
_steps: dict[tuple[str, tuple[str, ...], bool], tuple[_Listing, _Step]] = {}
_Key = tuple[int, int, int, int]  # a directory's device, inode, modification, change time


@dataclass
class _Walk:
    """A walk kept for the next run: kept only when every listing was (no directory
    changed in the last two seconds)."""

    directories: list[str]  # the directories it went through (``top/a/b/``)
    keys: list[_Key]  # theirs
    found: list[str]  # the files it found
    wholes: frozenset[str]  # those of the directories matched as a whole
    generation: int = 0  # of the watch on its directories, once set after it (0: none)
    # the daemon's count of name events (name_log) read before the walk, when it ran
    names: dict[str, Any] | None = None
    _walked: frozenset[str] | None = None

    @property
    def walked(self) -> frozenset[str]:
        if self._walked is None:
            self._walked = frozenset(self.directories)
        return self._walked


_WalkKey = tuple[str, tuple[str, ...]]  # (repository top, patterns)
_walks: dict[_WalkKey, _Walk] = {}
_watches: dict[_WalkKey, TreeWatch] = {}  # on the directories of the kept walk
# Directories from which a walk is watched rather than stat'ed at every run: a process
# making runs in a small repository holds no inotify instance (a user has 128).
WATCH_FROM = 256


@functools.lru_cache(maxsize=16)
def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(patterns)


@functools.lru_cache(maxsize=1 << 16)
def _matches(patterns: tuple[str, ...], path: str) -> bool:
    """Whether ``patterns`` match ``path``; kept, since the same paths come back at every
    run and matching costs more than everything else a run does with a file."""
    return _spec(patterns).match_file(path)


def data_json(worktree: Worktree, settings: Settings, like: str,
              names: dict[str, Any] | None = None) -> bytes:  # fmt: skip
    """The text of ``data.json``: a list of entries sorted by path (``like``: an object
    id of the repository, for its hash algorithm; ``names``: where names came and went
    since :func:`names_since`, as the daemon told the run)."""
    patterns = _patterns(settings)
    files = sorted(matching_files(worktree.root, patterns, names))
    cache = _load(worktree.state_dir / CACHE_FILE)
    confidential = _confidential(settings)
    top = str(worktree.root) + os.sep
    entries: list[dict[str, Any]] = []
    pending: list[tuple[dict[str, Any], os.stat_result]] = []
    for path in files:
        entry, info = _entry(top, path, cache, confidential, len(like))
        if entry is not None:
            entries.append(entry)
        if entry is not None and info is not None:
            pending.append((entry, info))
    _hash_within_budget(top, pending, cache, like)
    gone = cache.entries.keys() - set(files)
    for path in gone:  # the cache holds what data_paths names now, no more
        del cache.entries[path]
    cache.changed = cache.changed or bool(gone)
    if cache.changed:
        _save(worktree.state_dir / CACHE_FILE, cache)
    lines = [json.dumps(entry, sort_keys=True) for entry in entries]
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode()  # one file a line: diffs read well


def names_since(worktree: Worktree, settings: Settings) -> dict[str, Any] | None:
    """The daemon's answer the kept walk was made after (its daemon and number), for the
    daemon to tell what happened since; None without one."""
    if not settings.context_data:
        return None
    kept = _walks.get((str(worktree.root) + os.sep, _patterns(settings)))
    return None if kept is None else kept.names


def _patterns(settings: Settings) -> tuple[str, ...]:
    return tuple(p for p in settings.data_paths if _inside(p))


def _inside(pattern: str) -> bool:
    if ".." in pattern.replace("\\", "/").split("/"):
        warn_once(f"data_paths: {pattern!r} leaves the repository; it is ignored")
        return False
    return True


def matching_files(root: Path, patterns: tuple[str, ...],
                   names: dict[str, Any] | None = None) -> list[str]:  # fmt: skip
    """Every file or symbolic link under ``root`` the patterns match (relative paths).
    ``names``: the daemon's answer on where names came and went (see :func:`names_since`);
    without it, the run's own watch or ``stat``s tell whether the kept walk still holds."""
    key = (str(root) + os.sep, patterns)
    kept = _walks.get(key)
    if names is not None:
        return _told_by_daemon(key, kept, names)
    watch = _watches.get(key)
    if watch is not None and not (watch.mine and watch.watching):
        watch = None
    before = 0 if watch is None else watch.current()  # a change after this read is seen
    if kept is not None and kept.generation and kept.generation == before:
        return kept.found  # no name added, removed or renamed since the walk
    # a generation changed says a name did: walked again (through the kept listings)
    if kept is None or watch is not None or not _unchanged(kept.directories, kept.keys):
        found, kept = _walk(*key)
        if kept is None:
            _walks.pop(key, None)
            return found
        _walks[key] = kept
    _watch(key, kept, before)
    return kept.found


def _told_by_daemon(key: _WalkKey, kept: _Walk | None, names: dict[str, Any]) -> list[str]:
    """The kept walk while the daemon saw no name come or go where it could change what
    the walk finds, else a new walk; either way kept with the daemon's latest number."""
    latest = {"daemon": names.get("daemon"), "number": names.get("number")}
    if kept is None or not _still_holds(key, kept, names):
        found, kept = _walk(*key)
        if kept is None:
            _walks.pop(key, None)
            return found
        _walks[key] = kept
    kept.names = latest  # read before the walk: what came after it is told next time
    return kept.found


def _still_holds(key: _WalkKey, kept: _Walk, names: dict[str, Any]) -> bool:
    """Whether ``kept`` finds the same files after the name events ``names`` lists: none
    in a directory it went through, or only names it would not look at there: a
    directory it never enters (``mlruns/``, one no pattern can reach), a file no pattern
    can match (every pattern names directories only, as the default ``data/``, and the
    directory is not matched as a whole); a ``.git`` or ``pyvenv.cfg`` always counts."""
    changed = names.get("changed")
    if kept.names is None or names.get("daemon") != kept.names.get("daemon"):
        return False
    if not isinstance(changed, list):
        return False  # unknown: lost events, too many, or another daemon
    top, patterns = key
    directories_only = _directories_only(patterns)
    walked = kept.walked
    for path, directory in changed:
        parent, _, name = str(path).rpartition("/")
        where = top + (parent + "/" if parent else "")
        if where not in walked:
            continue
        if name in _SHAPING:
            return False
        if directory:
            if name not in _NEVER_WALKED and _may_hold(patterns, f"{path}/"):
                return False
        elif not directories_only or where in kept.wholes:
            return False
    return True


_SHAPING = frozenset({".git", "pyvenv.cfg"})  # file names that keep a walk out (_listing)


@functools.lru_cache(maxsize=16)
def _directories_only(patterns: tuple[str, ...]) -> bool:
    """Whether every pattern that adds files names directories only (ends with ``/``): a
    file then matches only inside a directory matched as a whole."""
    adding = [p for p in patterns if p.strip() and not p.startswith(("#", "!"))]
    return all(p.endswith("/") for p in adding)


def _walk(top: str, patterns: tuple[str, ...]) -> tuple[list[str], _Walk | None]:
    """The files found, and the walk to keep (None: a directory changed too recently)."""
    found: list[str] = []
    stack: list[tuple[str, bool]] = [("", False)]  # directory, matched as a whole
    listed: list[str] = []
    wholes: list[str] = []
    while stack:
        directory, whole = stack.pop()
        listed.append(top + directory)
        if whole:
            wholes.append(top + directory)
        files, subdirectories = _step(top, directory, whole, patterns)
        found += files
        stack += subdirectories
    walked = set(listed)
    for gone in [d for d in _listings if d.startswith(top) and d not in walked]:
        del _listings[gone]  # directories removed or no longer walked
    for step in [k for k in _steps if k[0].startswith(top) and k[0] not in walked]:
        del _steps[step]
    kept = [_listings.get(d) for d in listed]
    if None in kept:
        return found, None
    keys = [listing[0] for listing in kept if listing is not None]
    return found, _Walk(listed, keys, found, frozenset(wholes))


def _watch(key: _WalkKey, kept: _Walk, before: int) -> None:
    """Watch the directories of ``kept`` (for names only) and give it the watch's
    generation: ``before`` (read before the walk) when the watch was set already, after
    checking the directories watched only now against their keys."""
    from autocommit.tracking.tree_watch import TreeWatch, room

    watch = _watches.get(key)
    if watch is None or not watch.mine:
        for other in [k for k in _watches if k[0] == key[0]]:
            _watches.pop(other).close()  # of other patterns
        if not WATCH_FROM <= len(kept.directories) <= room():
            return  # few, or over the budget: every directory is stat'ed at every run
        watch = _watches[key] = TreeWatch(key[0], frozenset(), names_only=True,
                                          directories=kept.directories)  # fmt: skip
        new, before = kept.directories, watch.current()
    elif not watch.watching:
        return  # over the budget or the kernel's limit: not tried again in this process
    else:
        new = watch.follow(kept.directories)  # a new walk: its new directories too
    added = set(new)
    check = [(d, k) for d, k in zip(kept.directories, kept.keys, strict=True) if d in added]
    unchanged = _unchanged([d for d, _ in check], [k for _, k in check])
    kept.generation = before if watch.watching and before and unchanged else 0


def _unchanged(directories: list[str], keys: list[_Key]) -> bool:
    """Whether every directory still has its key: then no name was added, removed or
    renamed in any, and the walk would find the same files."""
    lstat = os.lstat
    try:
        for directory, key in zip(directories, keys, strict=True):
            info = lstat(directory)
            if (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns) != key:
                return False
    except OSError:
        return False
    return True


@functools.lru_cache(maxsize=16)
def _prefixes(patterns: tuple[str, ...]) -> tuple[tuple[str, ...], ...] | None:
    """The literal leading path components of each pattern that adds files (a negation
    only takes some away): every file the patterns match lies under one of them. None
    when a pattern matches at any depth (no ``/`` before its end), or is written in a way
    this does not read (an escape, spaces at an end)."""
    found = []
    for pattern in patterns:
        if not pattern or pattern.startswith(("#", "!")):
            continue
        body = pattern.rstrip("/")
        if "/" not in body or "\\" in pattern or pattern != pattern.strip():
            return None
        parts = body.lstrip("/").split("/")
        found.append(tuple(itertools.takewhile(lambda part: not _GLOB & set(part), parts)))
    return tuple(found)


_GLOB = frozenset("*?[")


@functools.lru_cache(maxsize=1 << 16)
def _may_hold(patterns: tuple[str, ...], directory: str) -> bool:
    """Whether ``directory`` (``a/b/``) can hold a file the patterns match, or lies on the
    way to one that can."""
    prefixes = _prefixes(patterns)
    if prefixes is None:
        return True
    parts = tuple(directory.rstrip("/").split("/"))
    return any(parts[: len(p)] == p or p[: len(parts)] == parts for p in prefixes)


def _step(top: str, directory: str, whole: bool, patterns: tuple[str, ...]) -> _Step:
    """The files ``directory`` holds that the patterns match, and its subdirectories to
    walk (each with whether it is matched as a whole). Kept with the directory's listing:
    while the listing is the one kept, so is the answer (matching is what costs)."""
    listing = _listing(top + directory)
    key = (top + directory, patterns, whole)
    kept = _steps.get(key)
    if kept is not None and kept[0] is listing:
        return kept[1]
    entries, foreign = listing
    files: list[str] = []
    subdirectories: list[tuple[str, bool]] = []
    if not (directory and foreign):  # another repository, a virtualenv: not walked
        for name, is_dir in entries:
            path = f"{directory}{name}"
            if is_dir:
                if name not in _NEVER_WALKED and _may_hold(patterns, path + "/"):
                    subdirectories.append((path + "/", whole or _matches(patterns, path + "/")))
            elif whole or _matches(patterns, path):
                files.append(path)
    _steps[key] = (listing, (files, subdirectories))
    return files, subdirectories


def _listing(directory: str) -> _Listing:
    """The names in ``directory``, each with whether it is a directory (not following
    links), and whether it holds ``.git`` or ``pyvenv.cfg``. Kept for the process by the
    directory's inode and times, which any entry added, removed or renamed changes: a
    later run ``stat``s the directory instead of reading it. Not kept while the directory
    changed in the last two seconds (a second change within the clock's resolution could
    leave its times as they were)."""
    started = time.time_ns()
    try:
        info = os.lstat(directory)
    except OSError:
        return (), False
    key = (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns)
    known = _listings.get(directory)
    if known is not None and known[0] == key:
        return known[1]
    try:
        with os.scandir(directory) as found:
            entries = tuple((e.name, e.is_dir(follow_symlinks=False)) for e in found)
    except OSError:
        return (), False
    listing = entries, any(name in (".git", "pyvenv.cfg") for name, _ in entries)
    if max(info.st_mtime_ns, info.st_ctime_ns) < started - _SETTLED_NS:
        _listings[directory] = (key, listing)
    return listing


_Confidential = Callable[[str, os.stat_result], "str | None"]


@functools.lru_cache(maxsize=4)
def _confidential(settings: Settings) -> _Confidential:
    """``ExclusionRules.confidential``, kept by path and mode for the process: the same
    paths come back at every run, and matching the secret patterns is what costs."""
    rules = ExclusionRules(settings)
    known: dict[tuple[str, int], str | None] = {}

    def confidential(path: str, info: os.stat_result) -> str | None:
        key = (path, info.st_mode)
        if key not in known:
            known[key] = rules.confidential(path, info)
        return known[key]

    return confidential


def _entry(top: str, path: str, cache: _Cache, confidential: _Confidential,
           id_length: int) -> tuple[dict[str, Any] | None, os.stat_result | None]:  # fmt: skip
    """The entry of ``path``, with its id when the cache knows it; else marked pending,
    and its ``stat`` to hash it by."""
    try:
        info = os.lstat(top + path)
    except OSError:
        return None, None  # gone meanwhile
    entry: dict[str, Any] = {"path": path, "size": info.st_size,
                             "mtime": _iso(info.st_mtime_ns), "blob": None}  # fmt: skip
    if stat.S_ISLNK(info.st_mode):
        entry["symlink"] = os.readlink(top + path)
        return entry, None
    if not stat.S_ISREG(info.st_mode):
        return None, None
    if reason := confidential(path, info):
        entry["fingerprint"] = f"size+mtime ({reason})"
        return entry, None
    if info.st_size > FULL_HASH_LIMIT:
        entry["fingerprint"] = OVER_LIMIT
        return entry, None
    known = cache.entries.get(path)
    if known is not None and known[:4] == _key(info) and len(known[4]) == id_length:
        entry["blob"] = known[4]
        return entry, None
    entry["fingerprint"] = PENDING
    return entry, info


def _key(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _hash_within_budget(top: str, pending: list[tuple[dict[str, Any], os.stat_result]],
                        cache: _Cache, like: str) -> None:  # fmt: skip
    """Hash the files of the ``pending`` entries, smallest first, while :data:`HASH_BUDGET`
    lasts (the first one whatever its size); the others stay marked pending."""
    spent = 0
    for entry, info in sorted(pending, key=lambda item: (item[1].st_size, item[0]["path"])):
        if spent and spent + info.st_size > HASH_BUDGET:
            continue
        spent += info.st_size
        blob = _blob(top + entry["path"], entry["path"], info, cache, like)
        entry["blob"] = blob
        if blob is None:
            entry["fingerprint"] = "size+mtime (unreadable, or changed while read)"
        else:
            del entry["fingerprint"]


def _blob(full: str, path: str, info: os.stat_result, cache: _Cache, like: str) -> str | None:
    started = time.time_ns()
    try:
        blob = file_blob_id(Path(full), like)
    except OSError:
        return None
    if info.st_mtime_ns < started - _SETTLED_NS:
        cache.entries[path] = (*_key(info), blob)
        cache.changed = True
    return blob


@functools.lru_cache(maxsize=1 << 16)
def _iso(ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return moment.isoformat(timespec="microseconds")


def _load(path: Path) -> _Cache:
    """The cache of ``path``: kept in memory, read again only when another process
    rewrote it."""
    try:
        info = os.stat(path)
        stamp: tuple[int, int] | None = (info.st_ino, info.st_mtime_ns)
    except OSError:
        stamp = None
    cache = _caches.get(path)
    if cache is not None and cache.stamp == stamp:
        return cache
    entries: dict[str, _Cached] = {}
    if stamp is not None:
        try:
            raw = json.loads(path.read_bytes())
            entries = {str(k): (int(v[0]), int(v[1]), int(v[2]), int(v[3]), str(v[4]))
                       for k, v in raw.items()}  # fmt: skip
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            entries = {}  # unreadable: hashed anew
    cache = _Cache(entries, stamp)
    _caches[path] = cache
    return cache


def _save(path: Path, cache: _Cache) -> None:
    ensure_dir(path.parent)
    write_atomically(path, json.dumps(cache.entries, separators=(",", ":")).encode())
    info = os.stat(path)
    cache.stamp, cache.changed = (info.st_ino, info.st_mtime_ns), False
