"""Reading git objects: loose ones directly, others through one ``git cat-file --batch``.

A snapshot looks up HEAD, the shadow tip and a few trees. Those autocommit wrote itself
are mostly loose objects, read without starting git; for the rest one process answering
them all costs less than a process per lookup, and questions can be asked ahead of the
answers being needed (:meth:`ObjectReader.ask`) so that git works while Python does.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, NoReturn, Protocol

from autocommit import contract
from autocommit.errors import GitCommandError
from autocommit.gitio import git

TREE_MODE = "40000"
GITLINK_MODE = "160000"
SYMLINK_MODE = "120000"
# The empty tree, which git knows without storing it, by object id length (SHA-1, SHA-256).
_EMPTY_TREES = {
    40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}
_KEPT_COMMITS = 256  # commits never change: the latest ones read are kept, by id
_KEPT_ENTRIES = 50_000  # tree entries kept by a reader (a few MiB), whatever the trees' sizes


Found = tuple[str, str, bytes]  # an object's id, type and content


class CommitInfo(NamedTuple):
    sha: str
    tree: str
    trailers: dict[str, str]  # the last value of each "Key: value" line of the message


class TreeEntry(NamedTuple):  # a tuple: compared and hashed in C (trees of 100k entries)
    mode: str  # as git writes it in trees: 100644, 100755, 120000, 160000, 40000
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


_commits: dict[str, CommitInfo] = {}  # by id, for every reader of this process


def parse_commit(sha: str, body: bytes) -> CommitInfo:
    text = body.decode(errors="replace")
    header, _, message = text.partition("\n\n")
    tree = header.split("\n", 1)[0].removeprefix("tree ")
    trailers: dict[str, str] = {}
    for line in message.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key and " " not in key:
            trailers[key] = value.strip()
    return CommitInfo(sha, tree, trailers)


def parse_tree(body: bytes, oid_bytes: int) -> dict[str, TreeEntry]:
    """``{name: entry}`` of a raw tree object (``<mode> <name>\\0<binary oid>`` records)."""
    entries: dict[str, TreeEntry] = {}
    pos = 0
    while pos < len(body):
        space = body.index(b" ", pos)
        nul = body.index(b"\0", space)
        mode = body[pos:space].decode()
        name = body[space + 1 : nul].decode(errors="surrogateescape")
        sha = body[nul + 1 : nul + 1 + oid_bytes].hex()
        entries[name] = TreeEntry(mode, sha)
        pos = nul + 1 + oid_bytes
    return entries


def empty_tree(like: str) -> str:
    """The empty tree's id in the repository whose object ids look like ``like``."""
    return _EMPTY_TREES[len(like)]


def object_id(kind: str, body: bytes, like: str) -> str:
    """The id git gives ``body`` as a ``kind`` object in a repository whose ids look like
    ``like`` (SHA-1 ids have 40 hex digits, SHA-256 ids 64)."""
    algorithm = hashlib.sha256 if len(like) == 64 else hashlib.sha1
    return algorithm(f"{kind} {len(body)}\0".encode() + body).hexdigest()


def tree_text(entries: list[tuple[str, TreeEntry]]) -> bytes:
    """The raw tree object holding ``entries`` (in git's order: a subtree sorts as if its
    name ended in ``/``)."""
    encoded = [_ENCODED.get(item) or _encode(item) for item in entries]
    encoded.sort()  # by the sort key: names are unique in a tree
    return b"".join(raw for _, raw in encoded)


def _encode(item: tuple[str, TreeEntry]) -> tuple[bytes, bytes]:
    """``item``'s sort key and its bytes in a tree object, kept for the next tree: a
    snapshot rewrites the trees along a changed path, all of whose other entries are as
    they were (two trees of 224 entries at a million files)."""
    name, entry = item[0].encode(errors="surrogateescape"), item[1]
    encoded = (
        name + b"/" if entry.is_tree else name,
        f"{entry.mode} ".encode() + name + b"\0" + bytes.fromhex(entry.sha),
    )
    if len(_ENCODED) >= _MOST_ENCODED:
        _ENCODED.clear()
    _ENCODED[item] = encoded
    return encoded


# tree entries (name, entry) → their sort key and bytes, for the trees written next
_ENCODED: dict[tuple[str, TreeEntry], tuple[bytes, bytes]] = {}
_MOST_ENCODED = 8192  # about 2 MiB: a run's path of trees many times over


def file_blob_id(path: Path, like: str, *, chunk: int = 1 << 20) -> str:
    """The blob id git gives the bytes of the file at ``path`` as they are (no clean
    filter, no eol conversion), read in chunks: what ``git hash-object --no-filters``
    answers, without a process."""
    algorithm = hashlib.sha256() if len(like) == 64 else hashlib.sha1()
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        algorithm.update(f"blob {size}\0".encode())
        read = 0
        while block := file.read(chunk):
            algorithm.update(block)
            read += len(block)
    if read != size:
        raise OSError(f"{path} changed while it was read")
    return algorithm.hexdigest()


def read_loose(objects_dir: Path, sha: str) -> tuple[str, bytes] | None:
    """``(type, body)`` of a loose object, read without starting git; None when ``sha`` is
    not a loose object there (packed, in an alternate) or cannot be read: ask git then.

    A commit autocommit has just written is loose, so reading it back costs no process.
    """
    if not contract.OBJECT_ID.fullmatch(sha):
        return None
    try:
        data = zlib.decompress((objects_dir / sha[:2] / sha[2:]).read_bytes())
    except (OSError, ValueError, zlib.error):
        return None
    header, nul, body = data.partition(b"\0")
    kind, _, size = header.decode(errors="replace").partition(" ")
    if not nul or not size.isdigit() or int(size) != len(body):
        return None
    return kind, body


class ObjectReader:
    """Answers object lookups by name (a sha, ``HEAD``, a ref) until closed."""

    def __init__(self, root: Path, objects_dir: Path, *, kept: bool = False) -> None:
        self._root = root
        self._objects_dir = objects_dir  # the repository's object store, for loose objects
        self._kept = kept  # serves many snapshots: see git.popen
        self._proc: subprocess.Popen[bytes] | None = None
        self._waiting: list[list[Found | None]] = []  # questions sent, oldest first
        self._trees: dict[str, dict[str, TreeEntry]] = {}
        self._kept_entries = 0

    def forget_trees(self) -> None:
        self._trees.clear()
        self._kept_entries = 0

    def close(self) -> None:
        self.forget_trees()
        self._waiting.clear()
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.communicate()  # closes its stdin: git exits

    def ask(self, name: str) -> Callable[[], Found | None]:
        """Ask for the object ``name`` names (a sha, ``HEAD``, a ref) and take the answer
        later, by calling the result: git looks it up meanwhile. None: there is none.

        A loose object named by its id is read without git (autocommit's own commits and
        trees mostly are loose); anything else is asked of ``git cat-file``.
        """
        loose = read_loose(self._objects_dir, name)
        if loose is not None:
            found = (name, *loose)
            return lambda: found
        slot: list[Found | None] = []
        self._send(name)
        self._waiting.append(slot)

        def answer() -> Found | None:
            while not slot:
                self._receive()  # the answers to earlier questions come first
            return slot[0]

        return answer

    def read(self, name: str) -> Found | None:
        """``(sha, type, body)`` of the object ``name`` names, or None when there is none."""
        return self.ask(name)()

    def ask_commit(self, name: str) -> Callable[[], CommitInfo | None]:
        """:meth:`ask` for a commit (commits read before, by id, are not read again)."""
        known = _commits.get(name)
        if known is not None:
            return lambda: known
        answer = self.ask(name)

        def commit() -> CommitInfo | None:
            found = answer()
            if found is None or found[1] != "commit":
                return None
            info = parse_commit(found[0], found[2])
            if len(_commits) >= _KEPT_COMMITS:
                _commits.clear()
            _commits[info.sha] = info
            return info

        return commit

    def commit(self, name: str) -> CommitInfo | None:
        return self.ask_commit(name)()

    def _send(self, name: str) -> None:
        if self._proc is None or self._proc.poll() is not None:  # not started, or died idle
            self._waiting.clear()
            self._proc = git.popen(["cat-file", "--batch"], self._root, kept=self._kept)
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(name.encode(errors="surrogateescape") + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            self._failed()

    def _receive(self) -> None:
        """Read the answer to the oldest question still waiting for one."""
        if self._proc is None or not self._waiting:
            raise GitCommandError(["cat-file", "--batch"], 128, "the question was lost")
        stdout = self._proc.stdout
        assert stdout is not None
        header = stdout.readline()
        if not header:
            self._failed()
        slot = self._waiting.pop(0)
        fields = header.split()
        if len(fields) != 3:
            slot.append(None)  # "<name> missing" or "<name> ambiguous"
            return
        size = int(fields[2])
        body = stdout.read(size + 1)[:size]
        slot.append((fields[0].decode(), fields[1].decode(), body))

    def _failed(self) -> NoReturn:
        proc, self._proc = self._proc, None
        self._waiting.clear()
        stderr = proc.communicate()[1].decode(errors="replace") if proc else ""
        raise GitCommandError(["cat-file", "--batch"], 128, stderr or "cat-file exited")

    def tree(self, sha: str) -> dict[str, TreeEntry] | None:
        """The entries of the tree ``sha`` (a full object id: trees never change, so the
        latest ones read are kept; a daemon's next snapshot starts from them)."""
        cached = self._trees.get(sha)
        if cached is not None:
            return dict(cached)
        found = self.read(sha)
        if found is None or found[1] != "tree":
            return None
        entries = parse_tree(found[2], len(found[0]) // 2)
        if contract.OBJECT_ID.fullmatch(sha):
            self.remember(sha, entries)
        return dict(entries)

    def remember(self, sha: str, entries: dict[str, TreeEntry]) -> None:
        """Keep the entries of the tree ``sha`` (one just written need not be read back)."""
        if self._kept_entries + len(entries) > _KEPT_ENTRIES:
            self.forget_trees()
        self._trees[sha] = entries
        self._kept_entries += len(entries)


class _TooManyChanges(Exception):
    pass


def _kind(mode: str) -> str:
    return {SYMLINK_MODE: "symlink", GITLINK_MODE: "gitlink"}.get(mode, "file")


class TreeSource(Protocol):
    def tree(self, sha: str) -> dict[str, TreeEntry] | None: ...


def diff_trees(
    reader: TreeSource, old: str | None, new: str, limit: int
) -> list[tuple[str, str]] | None:
    """``[(status, path)]`` between two trees, as ``git diff-tree -r --name-status`` says
    (A, D, M, T); only differing subtrees are read. None when more than ``limit`` entries
    would have to be looked at (the caller then asks git)."""
    changes: list[tuple[str, str]] = []
    budget = [limit]

    def load(sha: str) -> dict[str, TreeEntry]:
        entries = reader.tree(sha)
        if entries is None:
            raise GitCommandError(["cat-file", sha], 128, f"tree {sha} is missing")
        budget[0] -= len(entries)
        if budget[0] < 0:
            raise _TooManyChanges
        return entries

    # Depth first, in path order, with a stack of what is still to do (a tree may be
    # thousands of levels deep: no recursion). An item is a change found, or a path
    # prefix and the two sides' tree ids to compare (None: no tree on that side).
    Item = tuple[str, str] | tuple[str, str | None, str | None]
    stack: list[Item] = [("", old, new)]
    try:
        while stack:
            item = stack.pop()
            if len(item) == 2:
                changes.append(item)
                continue
            prefix, was_tree, now_tree = item
            before = load(was_tree) if was_tree else {}
            after = load(now_tree) if now_tree else {}
            todo: list[Item] = []
            # the names whose entries differ, found in C (big trees mostly match)
            for name in sorted({name for name, _ in before.items() ^ after.items()}):
                path = prefix + name
                was, now = before.get(name), after.get(name)
                old_sub = was.sha if was is not None and was.is_tree else None
                new_sub = now.sha if now is not None and now.is_tree else None
                if was is not None and now is not None and old_sub is None and new_sub is None:
                    todo.append(("M" if _kind(was.mode) == _kind(now.mode) else "T", path))
                    continue
                if was is not None and old_sub is None:
                    todo.append(("D", path))
                if now is not None and new_sub is None:
                    todo.append(("A", path))
                if old_sub or new_sub:
                    todo.append((path + "/", old_sub, new_sub))
            stack.extend(reversed(todo))
    except _TooManyChanges:
        return None
    return changes
