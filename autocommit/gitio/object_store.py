"""The repository's object store: how many loose objects it holds, and the indexes git
keeps beside it (commit-graph, multi-pack-index, reachability bitmaps).

Those indexes name objects. Whoever deletes objects (``prune``) or packs (``repack``)
must leave them naming only objects that exist, as ``git gc`` does, or ``git fsck``
fails and git commands may stop on a commit they cannot read; and it should leave the
ones the user chose to have, or every later git command is slower. :func:`present` finds
them; :func:`repack_options` keeps the pack-side ones through a repack;
:func:`rewrite_commit_graph` rewrites the commit-graph from the refs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from autocommit.gitio import git
from autocommit.gitio.repo import Worktree

_LOOSE_NAME = re.compile(r"[0-9a-f]{38}|[0-9a-f]{62}")  # SHA-1 or SHA-256, less the dir name
SAMPLE_DIRS = tuple(f"{n:02x}" for n in range(16))  # 1/16 of the fan-out directories


def objects_dir(worktree: Worktree) -> Path:
    return worktree.common_dir / "objects"


class Indexes(NamedTuple):
    commit_graph: bool  # objects/info/commit-graph
    commit_graph_chain: bool  # objects/info/commit-graphs/ (split, `--split`)
    midx: bool  # objects/pack/multi-pack-index
    midx_bitmap: bool  # objects/pack/multi-pack-index-<hash>.bitmap
    pack_bitmap: bool  # objects/pack/pack-<hash>.bitmap

    @property
    def any_commit_graph(self) -> bool:
        return self.commit_graph or self.commit_graph_chain


def present(objects: Path) -> Indexes:
    pack = objects / "pack"
    try:
        names = os.listdir(pack)
    except OSError:
        names = []
    bitmaps = [n for n in names if n.endswith(".bitmap")]
    return Indexes(
        commit_graph=(objects / "info" / "commit-graph").is_file(),
        commit_graph_chain=(objects / "info" / "commit-graphs" / "commit-graph-chain").is_file(),
        midx="multi-pack-index" in names,
        midx_bitmap=any(n.startswith("multi-pack-index") for n in bitmaps),
        pack_bitmap=any(n.startswith("pack-") for n in bitmaps),
    )


def repack_options(indexes: Indexes, *, all_into_one: bool) -> list[str]:
    """Options for ``git repack`` that write again the pack indexes that were there.

    ``git repack`` deletes a multi-pack-index when it deletes a pack it covers, and a
    pack's bitmap goes with its pack. Bitmaps need every object in one pack (or a
    multi-pack-index): an incremental repack writes none.
    """
    options = ["--write-midx"] if indexes.midx else []
    bitmaps = indexes.midx_bitmap or indexes.pack_bitmap
    if bitmaps and (all_into_one or indexes.midx):
        options.append("--write-bitmap-index")
    elif not all_into_one:
        options.append("--no-write-bitmap-index")  # repack.writeBitmaps would make it fail
    return options


def rewrite_commit_graph(root: Path, indexes: Indexes) -> None:
    """Write the commit-graph afresh from the refs, in the layout it had (one file or a
    chain), so that it names no commit the refs no longer reach."""
    split = ["--split=replace"] if indexes.commit_graph_chain else []
    git.run(["commit-graph", "write", "--reachable", "--no-progress", *split], root)


def loose_estimate(objects: Path) -> int:
    """About how many loose objects there are: those in 16 of the 256 fan-out
    directories, times 16 (git's ``gc --auto`` samples one directory the same way)."""
    return sum(_loose_in(objects / name) for name in SAMPLE_DIRS) * (256 // len(SAMPLE_DIRS))


def loose_count(objects: Path) -> int:
    """The exact number of loose objects (reads all 256 fan-out directories)."""
    return sum(_loose_in(objects / f"{n:02x}") for n in range(256))


def _loose_in(directory: Path) -> int:
    try:
        with os.scandir(directory) as entries:
            return sum(1 for entry in entries if _LOOSE_NAME.fullmatch(entry.name))
    except OSError:
        return 0
