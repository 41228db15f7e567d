"""A commit of a few files held in memory, on top of a given commit, pinned.

A run's context (:mod:`autocommit.tracking.context`) is such a commit: a flat tree of
small files whose only parent is the run commit. Every id is computed here first; the
author, committer and dates are the parent's, so equal files on the same parent give the
same commit, and when that commit is already pinned nothing is written at all.

Such commits are written together with the run commit (:class:`FileCommits`, handed to
:class:`~autocommit.engine.run_pin.RunPin`): the blobs and the tree through ``git
hash-object -w`` (a process per kind, kept by the watch daemon), the commit with the run
commit's and its pin in the same ref update. Nothing touches the index or the working
tree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from autocommit.engine.run_commit import commit_text_of
from autocommit.engine.snapshot import CommitToPin
from autocommit.gitio import refs
from autocommit.gitio.commits import CommitWriter, commit_text
from autocommit.gitio.loose_objects import LooseObjects
from autocommit.gitio.objects import TreeEntry, object_id, tree_text
from autocommit.gitio.repo import Worktree

_FILE_MODE = "100644"
FRESH = 60.0  # seconds a tree just written is taken as still there


@dataclass(frozen=True)
class FileTree:
    """The objects of a flat tree of files (name → content), ids computed in Python."""

    files: dict[str, bytes]
    text: bytes  # the raw tree object
    id: str

    @classmethod
    def of(cls, files: dict[str, bytes], like: str) -> FileTree:
        """``like``: an object id of the repository, for its hash algorithm."""
        blobs = {name: object_id("blob", content, like) for name, content in files.items()}
        text = tree_text([(name, TreeEntry(_FILE_MODE, sha)) for name, sha in blobs.items()])
        return cls(files, text, object_id("tree", text, like))


def commit_on(parent: str, parent_text: bytes, tree: FileTree, message: str) -> bytes:
    """The text of the commit of ``tree`` whose only parent is ``parent`` (its raw text
    ``parent_text``), with the parent's author, committer and dates."""
    header = parent_text.decode(errors="surrogateescape").partition("\n\n")[0]
    fields = dict(line.split(" ", 1) for line in header.splitlines() if " " in line)
    return commit_text(tree.id, [parent], fields["author"], fields["committer"], message)


class TreeStore:
    """Writes the blobs and the tree of :class:`FileTree` s: from Python where ``loose``
    allows it, else ``git hash-object -w``, one process per kind (``kept``: for the
    daemon's whole life, shared by its threads); each
    tree once in a while (a tree written ahead, as a request arrives, is not written again
    for :data:`FRESH` seconds: long before ``git gc`` could prune it unreferenced)."""

    def __init__(self, worktree: Worktree, *, kept: bool = False,
                 loose: LooseObjects | None = None) -> None:  # fmt: skip
        root, state_dir = worktree.root, worktree.state_dir
        loose = loose or LooseObjects(worktree.common_dir / "objects")
        self._blobs = CommitWriter(root, state_dir, kept=kept, kind="blob", loose=loose)
        self._trees = CommitWriter(root, state_dir, kept=kept, kind="tree", loose=loose)
        self._lock = threading.Lock()
        self._written: dict[str, float] = {}  # tree → when stored (with its blobs)

    def start(self) -> None:
        """Start both now, so that their start-ups overlap with whatever comes before."""
        with self._lock:
            self._blobs.start()
            self._trees.start()

    def write(self, tree: FileTree) -> None:
        """Store ``tree`` and its blobs (git checks each id against the one computed)."""
        with self._lock:
            now = time.monotonic()
            if now - self._written.get(tree.id, -FRESH) < FRESH:
                return
            if tree.files:
                self._blobs.write(list(tree.files.values()), tree.id)
            self._trees.write([tree.text], tree.id)
            if len(self._written) >= 256:
                self._written.clear()
            self._written[tree.id] = now

    def close(self) -> None:
        with self._lock:
            self._blobs.close()
            self._trees.close()


@dataclass
class FileCommits:
    """Commits of in-memory files (name → content), each named by a key, to be made on a
    run commit as it is made (:class:`~autocommit.engine.run_pin.RunPin`): their trees
    are written through ``store``, their commits and pins with the run commit's."""

    files: dict[str, dict[str, bytes]]
    message: str
    store: TreeStore
    made: dict[str, str] | None = None  # key → the commit made on the run commit
    error: Exception | None = None  # why they could not be made as the run commit was
    # More files that may have arrived by the time the run commit is made (the daemon:
    # a run sends its context while the snapshot is under way).
    arrived: Callable[[], dict[str, dict[str, bytes]]] | None = None

    def on(
        self, worktree: Worktree, parent: str, parent_text: bytes | None
    ) -> tuple[CommitToPin, ...]:
        """Name each commit on ``parent`` (``parent_text``: its text when at hand) and
        write its tree; those still to be written and pinned."""
        if self.arrived is not None:
            self.files = {**self.files, **self.arrived()}
        wanted: dict[str, CommitToPin] = {}
        made: dict[str, str] = {}
        if not self.files:
            self.made = made
            return ()
        if parent_text is None:
            parent_text = commit_text_of(worktree, parent)
        for key, files in self.files.items():
            tree = FileTree.of(files, parent)
            text = commit_on(parent, parent_text, tree, self.message)
            made[key] = object_id("commit", text, parent)
            if made[key] not in wanted and not refs.pin_seen(worktree, made[key]):
                self.store.write(tree)  # before the commit: a pin never names a missing tree
                wanted[made[key]] = CommitToPin(made[key], text)
        self.made = made
        return tuple(wanted.values())
