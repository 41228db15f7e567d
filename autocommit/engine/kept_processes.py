"""The git processes a snapshot talks to through pipes, and keeping them between snapshots.

A snapshot reads objects (``cat-file --batch``), hashes changed files (``hash-object
--stdin-paths``) and moves refs (``update-ref --stdin``); it writes trees and commits
from Python (:mod:`autocommit.gitio.loose_objects`), or where git's config asks for
other permissions, through ``mktree --batch`` and ``hash-object -t commit``. Each
process costs a start, a few milliseconds, per snapshot; the watch daemon keeps one set
for its whole life instead (``kept=True``). A kept process sees every object and ref
written after it started, but reads git's configuration and attribute files only once:
the hasher is started anew after every full scan, which is what a change of either
leads to.
"""

from __future__ import annotations

from pathlib import Path

from autocommit.engine.tree_edit import TreeWriter
from autocommit.gitio import git
from autocommit.gitio.commits import CommitWriter
from autocommit.gitio.loose_objects import LooseObjects
from autocommit.gitio.objects import ObjectReader
from autocommit.gitio.piped import PipedGit
from autocommit.gitio.refs import RefUpdater
from autocommit.gitio.repo import Worktree

OBJECTS_AHEAD = "objects-ahead"  # in the state directory: the daemon's temporaries made ahead
_CHUNK = 256  # paths per write: git's answers must not fill the pipe while we still write


class BlobHasher:
    """``git hash-object -w --stdin-paths``: blob ids of working-tree files, through git's
    clean filters and eol conversion."""

    def __init__(self, root: Path, *, kept: bool = False) -> None:
        self._git = PipedGit(root, ["hash-object", "-w", "--stdin-paths"], kept=kept)

    def start(self) -> None:
        """Start git now (else on first use), so that its start-up overlaps with other work."""
        self._git.start()

    def hash(self, paths: list[str]) -> list[str]:
        """The blob id of each path (relative to the top of the working tree)."""
        ids: list[str] = []
        for start in range(0, len(paths), _CHUNK):
            chunk = paths[start : start + _CHUNK]
            request = "".join(git.c_quote(p) + "\n" for p in chunk)
            answers = self._git.ask(request.encode(errors="surrogateescape"), len(chunk))
            if answers is None:  # git stops at a file it cannot read (deleted meanwhile)
                raise self._git.failure()
            ids += answers
        return ids

    def close(self) -> None:
        self._git.close()


class GitPipes:
    """An object reader, a tree writer, a blob hasher and a commit writer for one working
    tree."""

    def __init__(self, worktree: Worktree, *, kept: bool = False) -> None:
        root = worktree.root
        self.kept = kept  # a daemon's: it serves many snapshots
        self.reader = ObjectReader(root, worktree.common_dir / "objects", kept=kept)
        # Trees and commits are written from Python once the snapshot has read git's
        # config and found the default permissions (see loose_objects); a kept writer
        # makes its files ahead.
        ahead = worktree.state_dir / OBJECTS_AHEAD if kept else None
        self.loose = LooseObjects(worktree.common_dir / "objects", ahead)
        self.trees = TreeWriter(root, kept=kept, loose=self.loose, reader=self.reader)
        self.blobs = BlobHasher(root, kept=kept)
        self.commits = CommitWriter(root, worktree.state_dir, kept=kept, loose=self.loose)
        self.refs = RefUpdater(root, kept=kept)  # by default one process per update

    def after_full_scan(self) -> None:
        """git's configuration or attributes may have changed: the hasher reads them anew.
        Trees kept from before may have been pruned since: they are read anew too."""
        self.blobs.close()
        self.reader.forget_trees()

    def close(self) -> None:
        for process in (self.reader, self.trees, self.blobs, self.commits, self.refs):
            process.close()
        self.loose.discard_ahead()
