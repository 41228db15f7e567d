"""A working tree's stamp: one ``stat`` of everything in it, to tell "nothing changed".

A run that imports code from another working tree describes it (HEAD, dirty flag, its
pinned commit), which costs git processes or a snapshot. Between two runs of one process
that tree rarely changes; its stamp says so for the price of a ``stat`` walk. The stamp
holds the device, inode, size, mode, modification and change times of every file and
directory of the working tree (ignored files too, and every directory but those the
caller knows git ignores as a whole: the stamp is on the safe side) and of the git files
that decide HEAD and what git sees (HEAD, the index, the configuration, the packed and
loose refs of HEAD's branch, info/exclude). Nothing can change a file without changing
its change time, which no one can set. A later stamp ``stat``s the paths the last walk
found and lists the tree again only when one of its directories changed (a name added,
removed or renamed in a directory changes its times).

No stamp is given (``None``: ask git) for a tree of more than :data:`WALK_LIMIT`
entries walked, whose walk would cost more than git's own, or when anything in it
changed in the last two seconds, since a second change within the clock's resolution
could then leave the times as they were.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path

WALK_LIMIT = 5000  # entries; a larger tree is asked of git at every run
SETTLED_NS = 2_000_000_000

_Stat = tuple[str, int, int, int, int, int, int]  # path, dev, ino, size, mode, mtime, ctime
Stamp = tuple[_Stat, ...]
_too_large: set[Path] = set()  # trees found too large once, not walked again
# by tree and directories skipped: the paths the last walk found, and the stat data of its
# directories; while those are unchanged, so are the names in them, and a later stamp
# ``stat``s the same paths again instead of listing every directory
_walks: dict[tuple[Path, frozenset[str]], tuple[list[str], dict[int, _Stat]]] = {}


def tree_stamp(root: Path, git_dir: Path, common_dir: Path,
               skipped: frozenset[str] = frozenset()) -> Stamp | None:  # fmt: skip
    """The stamp of the working tree at ``root``, not walking the directories ``skipped``
    (real paths: those git ignores as a whole); None when it cannot be trusted."""
    if root in _too_large:
        return None
    started = time.time_ns()
    found = [_stat(str(git_file)) for git_file in _git_files(git_dir, common_dir)]
    tree = _restat(_walks.get((root, skipped)))
    limit = WALK_LIMIT - len(found)  # git's files count too
    if tree is None or len(tree) > limit:
        paths = _walk(str(root), skipped, limit)
        if paths is None:
            _too_large.add(root)
            return None
        tree = [_stat(path) for path in paths]
        directories = {i: s for i, s in enumerate(tree) if stat.S_ISDIR(s[4])}
        if not _recent(directories.values(), started):  # else a name may be missed
            _walks[(root, skipped)] = (paths, directories)
    found += tree
    return None if _recent(found, started) else tuple(sorted(found))


def too_large(root: Path) -> bool:
    """Whether the tree at ``root`` was found too large to walk at every run."""
    return root in _too_large


def git_stamp(git_dir: Path, common_dir: Path) -> Stamp | None:
    """The stamp of the git files alone (a tree watched instead of walked)."""
    started = time.time_ns()
    found = [_stat(str(git_file)) for git_file in _git_files(git_dir, common_dir)]
    return None if _recent(found, started) else tuple(found)


def _recent(stats: Iterable[_Stat], started: int) -> bool:
    """Whether any of ``stats`` changed in the :data:`SETTLED_NS` before ``started``."""
    recent = started - SETTLED_NS
    return any(s[5] >= recent or s[6] >= recent for s in stats)


def _restat(known: tuple[list[str], dict[int, _Stat]] | None) -> list[_Stat] | None:
    """The stat data of the paths of the last walk, if its directories are unchanged."""
    if known is None:
        return None
    paths, directories = known
    tree = [_stat(path) for path in paths]
    return tree if all(tree[i] == s for i, s in directories.items()) else None


def _walk(root: str, skipped: frozenset[str], limit: int) -> list[str] | None:
    """Every directory and file under ``root`` but ``.git`` and the ``skipped``
    directories; None past ``limit`` entries."""
    paths: list[str] = []
    stack = [root]
    while stack:
        directory = stack.pop()
        paths.append(directory)
        try:
            with os.scandir(directory) as entries:
                listed = [(e.path, e.is_dir(follow_symlinks=False)) for e in entries]
        except OSError:
            continue
        for path, is_dir in listed:
            if not is_dir:
                paths.append(path)
            elif not path.endswith(f"{os.sep}.git") and path not in skipped:
                stack.append(path)
        if len(paths) > limit:
            return None
    return paths


def _git_files(git_dir: Path, common_dir: Path) -> list[Path]:
    files = [git_dir / "HEAD", git_dir / "index", common_dir / "config",
             common_dir / "packed-refs", common_dir / "info" / "exclude"]  # fmt: skip
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return files
    if head.startswith("ref: refs/"):
        files.append(common_dir / head.removeprefix("ref: "))  # the branch's loose ref
    return files


def _stat(path: str) -> _Stat:
    try:
        s = os.lstat(path)
    except OSError:
        return (path, -1, -1, -1, -1, -1, -1)  # absent is part of the stamp too
    return (path, s.st_dev, s.st_ino, s.st_size, s.st_mode, s.st_mtime_ns, s.st_ctime_ns)
