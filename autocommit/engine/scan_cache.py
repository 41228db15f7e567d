"""What a full scan keeps for the next one: the directories of the working tree, by stat.

A full scan that walks (:mod:`autocommit.engine.full_scan`) leaves a private index whose
stat data git checks itself, with its racy-timestamp rule (``git diff-files``): the
files changed since are found without hashing the others. What git cannot keep there
is where new untracked files may be: ``ls-files --others`` reads every directory. A
directory gains or loses an entry only when its mtime changes, so the next full scan
``stat``s each directory kept here and reads only the ones that changed, as git's own
untracked cache does (which ``git status`` alone uses):

- The cache is written by each full scan and holds the stat data of every directory of
  the working tree (not below a ``.git``, nor inside a nested repository) and of every
  ``.gitignore`` and ``.gitattributes`` found there: a change to one of those changes
  how the other files count, and sends the next scan back to a walk.
- Racy directories: ``marker`` is the mtime of a file touched before the directories
  were looked at, in the file system's own clock. A directory whose mtime or ctime is
  not older than it may have changed in the same tick as it was looked at, so it counts
  as changed next time (as git treats an entry not older than its index).
- ``private_index``: the stat data of the private index the walk left. Another writer,
  or a crash between the index and this file, makes them disagree: no cache.
- ``pending``: the paths found in changed directories since the last walk. A scan
  without a walk edits the previous snapshot's tree along the paths that may have
  changed and leaves the private index as the walk left it, so these are looked at
  again by every scan until the next walk (too many of them, and the next scan walks).
- ``racy``: the walk may have left many racily clean entries in the private index,
  files changed in the second git wrote it: :data:`RACY_DIRECTORIES` directories or
  more changed then (a checkout, a generator, a new clone). git cannot tell a later
  change within that second from their stat data, so every ``diff-files`` reads them
  again (at 10k such files, 30 ms a scan instead of 5), until a walk rewrites the index:
  once that second is over, the next full scan walks (:func:`walk_again`), and the
  index it writes holds stat data git trusts. A few files saved in that second cost git
  a few reads, less than a walk. (A scan without a walk must not refresh the walk's
  stat data itself: the tree it edits is the last snapshot's, not the walk's.)
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path
from typing import NamedTuple

from autocommit import state_files
from autocommit.state_layout import SCAN_CACHE

MAX_DIRECTORIES = 200_000  # beyond, no cache: a full walk each time
META_FILES = (".gitignore", ".gitattributes")

RACY_DIRECTORIES = 64  # changed in the second the private index was written: walk again
StatKey = tuple[int, int, int, int]  # mtime_ns, ctime_ns, inode, mode
Walked = tuple[dict[str, StatKey], dict[str, "StatKey | None"]]  # directories, meta files


def stat_key(info: os.stat_result) -> StatKey:
    return info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_mode


class ScanCache(NamedTuple):
    marker: int  # mtime (ns) of the marker file, touched before the walk
    private_index: list[int] | None  # snapshot_state.stat_key of the private index left
    directories: dict[str, StatKey]  # "" is the top of the working tree
    meta: dict[str, StatKey | None]  # .gitignore/.gitattributes paths → stat key
    pending: list[str]
    racy: bool = False  # the private index may hold racily clean entries


class Changes(NamedTuple):
    """What changed in the working tree's directories since the cache was written."""

    directories: list[str]  # changed or new directories (whose entries to look at)
    gone: list[str]  # directories no longer there
    meta_changed: bool  # a .gitignore or .gitattributes appeared, changed or went


def _path(state_dir: Path) -> Path:
    return state_dir / SCAN_CACHE


def _marker(state_dir: Path) -> Path:
    return state_dir / "scan-marker"


def touch_marker(state_dir: Path) -> int:
    """Touch the marker file and return its mtime: the file system's now."""
    path = _marker(state_dir)
    fd = state_files.open_fd(path, os.O_WRONLY | os.O_CREAT)
    try:
        os.utime(fd)
        return os.fstat(fd).st_mtime_ns
    finally:
        os.close(fd)


def load(state_dir: Path) -> ScanCache | None:
    """The cache; None when there is none, or it was cut short by a crash."""
    try:
        text = state_files.read_checked(_path(state_dir))
        if text is None:
            return None
        raw = json.loads(text)
        return ScanCache(
            marker=int(raw["marker"]),
            private_index=raw["private_index"],
            directories={str(k): _key(v) for k, v in raw["directories"].items()},
            meta={str(k): None if v is None else _key(v) for k, v in raw["meta"].items()},
            pending=[str(p) for p in raw["pending"]],
            racy=raw.get("racy", True) is True,  # unknown (an older cache): once more
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def kept(state_dir: Path) -> bool:
    """Whether a cache was written (:func:`load` tells whether it can be read)."""
    return _path(state_dir).exists()


def _key(value: list[int]) -> StatKey:
    mtime, ctime, ino, mode = value  # the checksum vouches for the rest
    return mtime, ctime, ino, mode


def save(state_dir: Path, cache: ScanCache) -> None:
    """Written over the old cache with a checksum, as ``state.json`` is (a rename costs a
    flush to disk on ext4): a write cut short reads as no cache (the next scan walks)."""
    data = {
        "marker": cache.marker,
        "private_index": cache.private_index,
        "directories": cache.directories,
        "meta": cache.meta,
        "pending": cache.pending,
        "racy": cache.racy,
    }
    state_files.write_checked(_path(state_dir), json.dumps(data).encode())


def may_be_racy(private_index: list[int] | None, directories: dict[str, StatKey]) -> bool:
    """Whether the index just written (its stat key, mtime first) may hold many racily
    clean entries: :data:`RACY_DIRECTORIES` directories of the walk or more gained or
    lost entries in the second git wrote it."""
    if private_index is None:
        return False
    second = private_index[0] - private_index[0] % 1_000_000_000
    changed = sum(1 for mtime, _, _, _ in directories.values() if mtime >= second)
    return changed >= RACY_DIRECTORIES


def walk_again(cache: ScanCache, now: int) -> bool:
    """Whether this full scan should walk to rewrite a racy private index: at ``now`` (the
    file system's clock: :func:`touch_marker`) the second git wrote it in is over, so the
    index a walk writes holds stat data git trusts."""
    if not cache.racy or cache.private_index is None:
        return False
    return now // 1_000_000_000 > cache.private_index[0] // 1_000_000_000


def forget(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_path(state_dir))


def _unchanged(old: StatKey | None, new: StatKey | None, marker: int) -> bool:
    """Equal stat data, and not racy: older than the marker."""
    return old is not None and old == new and old[0] < marker and old[1] < marker


def _lstat(path: str, top: int | None = None) -> StatKey | None:
    """``path``'s stat key (relative to the directory open as ``top``, when given)."""
    try:
        return stat_key(os.lstat(path, dir_fd=top))
    except OSError:
        return None


def check(root: Path, cache: ScanCache) -> tuple[Changes, dict[str, StatKey]]:
    """Each directory and meta file ``stat``ed again against ``cache``: what changed,
    and every directory's stat key now (new directories under changed ones walked)."""
    top = str(root)
    now: dict[str, StatKey] = {}
    changed: list[str] = []
    gone: list[str] = []
    lstat, a_directory, marker = os.lstat, stat.S_ISDIR, cache.marker
    # Relative to the open top: at 100k files, a third less time than whole paths. One
    # loop, no call per directory but the lstat: it runs beside git's stat of the files.
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for rel, old in cache.directories.items():
            try:
                info = lstat(rel or ".", dir_fd=fd)
            except OSError:
                gone.append(rel)
                continue
            key = (info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_mode)
            if not a_directory(key[3]):
                gone.append(rel)
                continue
            now[rel] = key
            if old != key or old[0] >= marker or old[1] >= marker:  # changed, or racy
                changed.append(rel)
    finally:
        os.close(fd)
    meta_changed = any(
        not _unchanged(old, _lstat(os.path.join(top, rel)), cache.marker)
        for rel, old in cache.meta.items()
    )
    for rel in list(changed):  # new directories (and meta files) under changed ones
        entries = _entries(top, rel)
        if any(name in META_FILES and _join(rel, name) not in cache.meta for name, _ in entries):
            meta_changed = True
        for name, is_dir in entries:
            sub = _join(rel, name)
            if is_dir and sub not in now:
                found, meta = walk(root, sub)
                now.update(found)
                changed.extend(found)
                meta_changed = meta_changed or bool(meta)
    return Changes(changed, gone, meta_changed), now


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _entries(top: str, rel: str) -> list[tuple[str, bool]]:
    """``(name, is a directory to walk)`` for the entries of a directory (not ``.git``)."""
    try:
        with os.scandir(os.path.join(top, rel) if rel else top) as it:
            return [(e.name, e.is_dir(follow_symlinks=False)) for e in it if e.name != ".git"]
    except OSError:
        return []


def walk(root: Path, start: str = "") -> Walked:
    """Every directory from ``start`` down (not below a ``.git``, nor inside a nested
    repository), and every meta file, with their stat keys."""
    top = str(root)
    directories: dict[str, StatKey] = {}
    meta: dict[str, StatKey | None] = {}
    todo = [start]
    while todo:
        rel = todo.pop()
        path = os.path.join(top, rel) if rel else top
        key = _lstat(path)
        if key is None or not stat.S_ISDIR(key[3]):
            continue
        directories[rel] = key
        if len(directories) > MAX_DIRECTORIES:
            raise OverflowError("too many directories to keep")
        if rel and os.path.lexists(os.path.join(path, ".git")):
            continue  # a nested repository: its own files are not ours
        for name, is_dir in _entries(top, rel):
            sub = _join(rel, name)
            if is_dir:
                todo.append(sub)
            elif name in META_FILES:
                meta[sub] = _lstat(os.path.join(top, sub))
    return directories, meta


def look_around(root: Path, cache: ScanCache) -> tuple[list[str], dict[str, StatKey]] | None:
    """The paths to look at in the directories changed since ``cache`` (the entries of
    those that changed, and the new and vanished ones themselves), and every directory's
    stat key now. None when a change may change how other files count (a meta file, a
    nested repository where there was none)."""
    changes, directories = check(root, cache)
    if changes.meta_changed:
        return None
    new = [d for d in changes.directories if d not in cache.directories]
    old = [d for d in changes.directories if d in cache.directories]
    if any(d and os.path.lexists(os.path.join(root, d, ".git")) for d in old):
        return None
    top = str(root)
    found = [*new, *changes.gone]
    for rel in old:
        found.extend(_join(rel, name) for name, is_dir in _entries(top, rel) if not is_dir)
    return found, directories
