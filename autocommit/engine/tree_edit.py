"""Editing a tree path by path, without an index.

An incremental snapshot changes a few paths of the previous snapshot's tree: only the
trees on those paths are read and rewritten, so the cost does not grow with the size of
the repository (an index of 100k files costs tens of milliseconds just to read).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from autocommit.errors import GitCommandError
from autocommit.gitio import git
from autocommit.gitio.loose_objects import LooseObjects
from autocommit.gitio.objects import (
    GITLINK_MODE,
    TREE_MODE,
    ObjectReader,
    TreeEntry,
    object_id,
    tree_text,
)
from autocommit.gitio.piped import PipedGit

_CHUNK = 256  # trees per write: git's answers must not fill the pipe while we still write


class MissingTree(Exception):
    """A tree the edit needs is not in the object store (e.g. pruned meanwhile)."""


class _Node:
    """A tree being edited: entries not yet loaded stay TreeEntry, edited ones are _Node."""

    __slots__ = ("entries",)

    def __init__(self, entries: dict[str, TreeEntry | _Node] | None = None) -> None:
        self.entries = {} if entries is None else entries


class TreeEditor:
    def __init__(self, reader: ObjectReader, base_tree: str) -> None:
        self._reader = reader
        self._base = base_tree
        self._root: _Node | None = None
        self.edited = False

    def _load(self, sha: str) -> _Node:
        entries = self._reader.tree(sha)
        if entries is None:
            raise MissingTree(sha)
        return _Node(dict(entries))

    def _root_node(self) -> _Node:
        if self._root is None:
            self._root = self._load(self._base)
        return self._root

    def _parent(self, path: str, create: bool) -> tuple[_Node, str] | None:
        """The node holding ``path``'s last component (created on the way if asked)."""
        *dirs, name = path.split("/")
        node = self._root_node()
        for part in dirs:
            child = node.entries.get(part)
            if isinstance(child, TreeEntry):
                child = self._load(child.sha) if child.is_tree else None
            if child is None:
                if not create:
                    return None
                child = _Node()  # a new directory, or one that replaces a file
            node.entries[part] = child
            node = child
        return node, name

    def get(self, path: str) -> TreeEntry | None:
        """The entry at ``path`` in the tree as edited so far (None: absent or a tree)."""
        found = self._parent(path, create=False)
        if found is None:
            return None
        entry = found[0].entries.get(found[1])
        return entry if isinstance(entry, TreeEntry) and not entry.is_tree else None

    def set(self, path: str, mode: str, sha: str) -> None:
        """Put a blob, symlink or gitlink at ``path`` (replacing whatever was there)."""
        found = self._parent(path, create=True)
        assert found is not None
        node, name = found
        if node.entries.get(name) != TreeEntry(mode, sha):
            node.entries[name] = TreeEntry(mode, sha)
            self.edited = True

    def remove(self, path: str) -> None:
        """Remove ``path`` (a file or a whole directory) if it is there."""
        found = self._parent(path, create=False)
        if found is not None and found[0].entries.pop(found[1], None) is not None:
            self.edited = True

    def write(self, writer: TreeWriter) -> str:
        """Write the edited trees (deepest first) and return the new root tree's id."""
        if self._root is None or not self.edited:
            return self._base
        return writer.write(self._root) or writer.empty_tree()


# Trees of one write handed to the reader: a run's handful; a burst's thousands of new
# directories would only fill its cache (and the daemon's memory) with trees read rarely.
_REMEMBERED = 64


class TreeWriter:
    """Writes the edited trees of a snapshot: each tree's id is computed here from its
    canonical form (entries in git's order, a subtree sorting as if its name ended in
    ``/``), so no tree waits for its subtrees' ids from git.

    Stored as loose objects from Python (:mod:`autocommit.gitio.loose_objects`) where
    ``loose`` allows it; else sent all at once, deepest first, to ``git mktree --batch``
    (started on first use, and again after it died; ``kept`` as for :func:`git.popen`),
    and the ids git answers are checked against ours.
    """

    def __init__(self, root: Path, *, kept: bool = False, loose: LooseObjects | None = None,
                 reader: ObjectReader | None = None) -> None:  # fmt: skip
        self._root = root
        self._loose = loose
        self._reader = reader  # told the trees written: the next snapshot starts from them
        self._git = PipedGit(root, ["mktree", "-z", "--batch"], kept=kept)

    def write(self, node: _Node) -> str | None:
        """The id of ``node``'s tree; None when it is empty (git stores no empty trees)."""
        trees: list[_Tree] = []
        root = _plan(node, trees)
        if self._loose is not None and self._loose.allowed:
            for tree in trees:
                self._loose.write("tree", tree.text, tree.sha)
        else:
            self._write_with_git(trees)
        if self._reader is not None and len(trees) <= _REMEMBERED:
            for tree in trees:
                self._reader.remember(tree.sha, dict(tree.entries))
        return root

    def _write_with_git(self, trees: list[_Tree]) -> None:
        requests = [_mktree_request(tree.entries) for tree in trees]
        expected = [tree.sha for tree in trees]
        for start in range(0, len(requests), _CHUNK):
            answered = self._request(requests[start : start + _CHUNK])
            if answered != expected[start : start + _CHUNK]:
                raise GitCommandError(["mktree", "--batch"], 128,
                                      f"git wrote {answered}, expected {expected}")  # fmt: skip

    def _request(self, trees: list[bytes]) -> list[str]:
        fresh = self._git.start()
        answers = self._git.ask(b"".join(trees), len(trees))
        if answers is not None:
            return answers
        failure = self._git.failure()
        if not fresh:  # mktree never looks for packs written since it started (a gc)
            return self._request(trees)
        raise failure

    def empty_tree(self) -> str:
        return git.out(["mktree"], self._root, input=b"")

    def close(self) -> None:
        self._git.close()


class _Tree(NamedTuple):
    """An edited tree to store: its entries, its raw object and its id."""

    entries: list[tuple[str, TreeEntry]]
    text: bytes
    sha: str


def _plan(top: _Node, trees: list[_Tree]) -> str | None:
    """Add ``top``'s tree and its edited subtrees (first) to ``trees``; returns ``top``'s
    id (None: empty, git stores none).

    Iterative, children before their parent: a tree may be thousands of levels deep."""
    ids: dict[int, str | None] = {}  # id(node) → its tree's id, once planned
    stack: list[tuple[_Node, bool]] = [(top, False)]
    while stack:
        node, children_done = stack.pop()
        if not children_done:
            stack.append((node, True))
            stack.extend((e, False) for e in node.entries.values() if isinstance(e, _Node))
            continue
        entries: list[tuple[str, TreeEntry]] = []
        for name, entry in node.entries.items():
            if isinstance(entry, _Node):
                sha = ids[id(entry)]
                if sha is None:
                    continue
                entry = TreeEntry(TREE_MODE, sha)
            entries.append((name, entry))
        if not entries:
            ids[id(node)] = None
            continue
        text = tree_text(entries)
        trees.append(_Tree(entries, text, object_id("tree", text, entries[0][1].sha)))
        ids[id(node)] = trees[-1].sha
    return ids[id(top)]


def _mktree_request(entries: list[tuple[str, TreeEntry]]) -> bytes:
    """The tree holding ``entries`` as ``git mktree -z --batch`` reads it."""
    lines = []
    for name, entry in entries:
        kind = {TREE_MODE: "tree", GITLINK_MODE: "commit"}.get(entry.mode, "blob")
        lines.append(f"{entry.mode} {kind} {entry.sha}\t{name}".encode(errors="surrogateescape"))
    return b"\0".join(lines) + b"\0\0"
