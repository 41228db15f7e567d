"""Editing a tree path by path, without an index.

An incremental snapshot changes a few paths of the previous snapshot's tree: only the
trees on those paths are read and rewritten, so the cost does not grow with the size of
the repository (an index of 100k files costs tens of milliseconds just to read).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from autocommit import git
from autocommit.errors import GitCommandError
from autocommit.objects import TREE_MODE, ObjectReader, TreeEntry


class MissingTree(Exception):
    """A tree the edit needs is not in the object store (e.g. pruned meanwhile)."""


@dataclass
class _Node:
    """A tree being edited: entries not yet loaded stay TreeEntry, edited ones are _Node."""

    entries: dict[str, TreeEntry | _Node] = field(default_factory=dict)


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


class TreeWriter:
    """``git mktree --batch``: one tree per request, its id read back before the next.

    Started on first use, and again after it died; ``kept`` as for :func:`git.popen`.
    """

    def __init__(self, root: Path, *, kept: bool = False) -> None:
        self._root = root
        self._kept = kept
        self._proc: subprocess.Popen[bytes] | None = None

    def write(self, node: _Node) -> str | None:
        """The id of ``node``'s tree; None when it is empty (git stores no empty trees)."""
        lines: list[bytes] = []
        for name, entry in node.entries.items():
            if isinstance(entry, _Node):
                sha = self.write(entry)
                if sha is None:
                    continue
                entry = TreeEntry(TREE_MODE, sha)
            kind = {"40000": "tree", "160000": "commit"}.get(entry.mode, "blob")
            line = f"{entry.mode} {kind} {entry.sha}\t{name}"
            lines.append(line.encode(errors="surrogateescape") + b"\0")
        if not lines:
            return None
        return self._request(b"".join(lines) + b"\0")

    def _request(self, data: bytes) -> str:
        fresh = self._proc is None or self._proc.poll() is not None  # else kept from before
        if self._proc is None or fresh:
            self._proc = git.popen(["mktree", "-z", "--batch"], self._root, kept=self._kept)
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(data)
            stdin.flush()
            line = stdout.readline()
        except BrokenPipeError:
            line = b""
        if not line.strip():
            proc, self._proc = self._proc, None
            stderr = proc.communicate()[1].decode(errors="replace")
            if not fresh:  # mktree never looks for packs written since it started (a gc)
                return self._request(data)
            raise GitCommandError(["mktree", "--batch"], proc.returncode or 128, stderr)
        return line.decode().strip()

    def empty_tree(self) -> str:
        return git.out(["mktree"], self._root, input=b"")

    def close(self) -> None:
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.communicate()  # closes its stdin: git exits
