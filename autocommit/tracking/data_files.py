"""``data.json`` of a run's context: a fingerprint of every file ``data_paths`` names.

Datasets are ignored by git or over the size cap, so two runs with the same code but a
changed ``data/train.csv`` would look the same. Each file matched by the gitignore-style
patterns of ``data_paths`` (inside the repository) is listed with its size, modification
time and git blob id (so a file committed later matches), computed in Python without a
filter. Ids are cached in the state directory by (device, inode, size, mtime): a run
re-reads only the files that changed. Files over :data:`FULL_HASH_LIMIT` are fingerprinted
by size and time alone (``"blob": null``); so are secret-looking names and files only
their owner may read (as snapshots leave them out: not even their hash is recorded).

The walk never enters ``.git``, virtualenvs (a directory holding ``pyvenv.cfg``), other
repositories, caches or ``mlruns/``, and never follows a symbolic link: a link is listed
with its target, whose content stays unread.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from autocommit.engine.exclusions import ExclusionRules
from autocommit.gitio.objects import file_blob_id
from autocommit.gitio.repo import Worktree
from autocommit.notices import warn_once
from autocommit.settings.config import Settings
from autocommit.state_files import ensure_dir, write_atomically

FULL_HASH_LIMIT = 4 * 1024**3  # bytes: larger files get size and time only
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


@functools.lru_cache(maxsize=16)
def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(patterns)


@functools.lru_cache(maxsize=1 << 16)
def _matches(patterns: tuple[str, ...], path: str) -> bool:
    """Whether ``patterns`` match ``path``; kept, since the same paths come back at every
    run and matching costs more than everything else a run does with a file."""
    return _spec(patterns).match_file(path)


def data_json(worktree: Worktree, settings: Settings, like: str) -> bytes:
    """The text of ``data.json``: a list of entries sorted by path (``like``: an object
    id of the repository, for its hash algorithm)."""
    patterns = tuple(p for p in settings.data_paths if _inside(p))
    files = sorted(matching_files(worktree.root, patterns))
    cache = _load(worktree.state_dir / CACHE_FILE)
    rules = ExclusionRules(settings)
    top = str(worktree.root) + os.sep
    entries = [_entry(top, path, cache, rules, like) for path in files]
    gone = cache.entries.keys() - set(files)
    for path in gone:  # the cache holds what data_paths names now, no more
        del cache.entries[path]
    cache.changed = cache.changed or bool(gone)
    if cache.changed:
        _save(worktree.state_dir / CACHE_FILE, cache)
    lines = [json.dumps(entry, sort_keys=True) for entry in entries if entry]
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode()  # one file a line: diffs read well


def _inside(pattern: str) -> bool:
    if ".." in pattern.replace("\\", "/").split("/"):
        warn_once(f"data_paths: {pattern!r} leaves the repository; it is ignored")
        return False
    return True


def matching_files(root: Path, patterns: tuple[str, ...]) -> list[str]:
    """Every file or symbolic link under ``root`` the patterns match (relative paths)."""
    found: list[str] = []
    top = str(root) + os.sep
    stack: list[tuple[str, bool]] = [("", False)]  # directory, matched as a whole
    while stack:
        directory, whole = stack.pop()
        try:
            entries = list(os.scandir(top + directory))
        except OSError:
            continue
        names = {entry.name for entry in entries}
        if directory and (".git" in names or "pyvenv.cfg" in names):
            continue  # another repository, a virtualenv
        for entry in entries:
            path = f"{directory}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in _NEVER_WALKED:
                    stack.append((path + "/", whole or _matches(patterns, path + "/")))
            elif whole or _matches(patterns, path):
                found.append(path)
    return found


def _entry(top: str, path: str, cache: _Cache, rules: ExclusionRules,
           like: str) -> dict[str, Any] | None:  # fmt: skip
    try:
        info = os.lstat(top + path)
    except OSError:
        return None  # gone meanwhile
    entry: dict[str, Any] = {"path": path, "size": info.st_size,
                             "mtime": _iso(info.st_mtime_ns), "blob": None}  # fmt: skip
    if stat.S_ISLNK(info.st_mode):
        entry["symlink"] = os.readlink(top + path)
        return entry
    if not stat.S_ISREG(info.st_mode):
        return None
    if confidential := rules.confidential(path, info):
        entry["fingerprint"] = f"size+mtime ({confidential})"
    elif info.st_size > FULL_HASH_LIMIT:
        entry["fingerprint"] = "size+mtime (over the hash limit)"
    else:
        entry["blob"] = _blob(top + path, path, info, cache, like)
    return entry


def _blob(full: str, path: str, info: os.stat_result, cache: _Cache, like: str) -> str | None:
    key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    known = cache.entries.get(path)
    if known is not None and known[:4] == key and len(known[4]) == len(like):
        return known[4]
    started = time.time_ns()
    try:
        blob = file_blob_id(Path(full), like)
    except OSError:
        return None  # unreadable, or changed while read: listed by size and time
    if info.st_mtime_ns < started - _SETTLED_NS:
        cache.entries[path] = (*key, blob)
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
