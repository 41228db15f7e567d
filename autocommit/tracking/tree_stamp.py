"""A working tree's stamp: one ``stat`` of everything in it, to tell "nothing changed".

A run that imports code from another working tree describes it (HEAD, dirty flag, its
pinned commit), which costs git processes or a snapshot. Between two runs of one process
that tree rarely changes; its stamp says so for the price of a ``stat`` walk. The stamp
holds the device, inode, size, mode, modification and change times of every file and
directory of the working tree (ignored ones too: the stamp cannot know what git ignores,
so it is on the safe side) and of the git files that decide HEAD and what git sees (HEAD,
the index, the configuration, the packed and loose refs of HEAD's branch, info/exclude).
Nothing can change a file without changing its change time, which no one can set.

No stamp is given (``None``: ask git) for a tree of more than :data:`WALK_LIMIT`
entries, whose walk would cost more than git's own, or when anything in it changed in
the last two seconds, since a second change within the clock's resolution could then
leave the times as they were.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

WALK_LIMIT = 5000  # entries; a larger tree is asked of git at every run
SETTLED_NS = 2_000_000_000

_Stat = tuple[str, int, int, int, int, int, int]  # path, dev, ino, size, mode, mtime, ctime
Stamp = tuple[_Stat, ...]
_too_large: set[Path] = set()  # trees found too large once, not walked again


def tree_stamp(root: Path, git_dir: Path, common_dir: Path) -> Stamp | None:
    """The stamp of the working tree at ``root``; None when it cannot be trusted."""
    if root in _too_large:
        return None
    started = time.time_ns()
    found: list[_Stat] = []
    for git_file in _git_files(git_dir, common_dir):
        _add(found, str(git_file))
    stack = [str(root)]
    while stack:
        directory = stack.pop()
        _add(found, directory)
        try:
            with os.scandir(directory) as entries:
                listed = [(e.path, e.is_dir(follow_symlinks=False)) for e in entries]
        except OSError:
            continue
        for path, is_dir in listed:
            if is_dir:
                if not path.endswith(f"{os.sep}.git"):
                    stack.append(path)
            else:
                _add(found, path)
        if len(found) > WALK_LIMIT:
            _too_large.add(root)
            return None
    recent = started - SETTLED_NS
    if any(s[5] >= recent or s[6] >= recent for s in found):
        return None
    return tuple(sorted(found))


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


def _add(found: list[_Stat], path: str) -> None:
    try:
        s = os.lstat(path)
    except OSError:
        found.append((path, -1, -1, -1, -1, -1, -1))  # absent is part of the stamp too
        return
    found.append((path, s.st_dev, s.st_ino, s.st_size, s.st_mode, s.st_mtime_ns, s.st_ctime_ns))
