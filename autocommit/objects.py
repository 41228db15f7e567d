"""Reading git objects through one long-lived ``git cat-file --batch`` process.

A snapshot looks up HEAD, the shadow tip and a few trees; one process answering them
all costs less than a process per lookup.
"""

from __future__ import annotations

import re
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from autocommit import git
from autocommit.errors import GitCommandError

TREE_MODE = "40000"
GITLINK_MODE = "160000"
SYMLINK_MODE = "120000"
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# The empty tree, which git knows without storing it, by object id length (SHA-1, SHA-256).
_EMPTY_TREES = {
    40: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    64: "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
}
_KEPT_ENTRIES = 50_000  # tree entries kept by a reader (a few MiB), whatever the trees' sizes


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    trailers: dict[str, str]  # the last value of each "Key: value" line of the message


@dataclass(frozen=True)
class TreeEntry:
    mode: str  # as git writes it in trees: 100644, 100755, 120000, 160000, 40000
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


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


def read_loose(objects_dir: Path, sha: str) -> tuple[str, bytes] | None:
    """``(type, body)`` of a loose object, read without starting git; None when ``sha`` is
    not a loose object there (packed, in an alternate) or cannot be read: ask git then.

    A commit autocommit has just written is loose, so reading it back costs no process.
    """
    if not _OBJECT_ID.fullmatch(sha):
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

    def __init__(self, root: Path, *, kept: bool = False) -> None:
        self._root = root
        self._kept = kept  # serves many snapshots: see git.popen
        self._proc: subprocess.Popen[bytes] | None = None
        self._trees: dict[str, dict[str, TreeEntry]] = {}
        self._kept_entries = 0

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def forget_trees(self) -> None:
        self._trees.clear()
        self._kept_entries = 0

    def close(self) -> None:
        self.forget_trees()
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.communicate()  # closes its stdin: git exits

    def read(self, name: str) -> tuple[str, str, bytes] | None:
        """``(sha, type, body)`` of the object ``name`` names, or None when there is none."""
        if self._proc is None or self._proc.poll() is not None:  # not started, or died idle
            self._proc = git.popen(["cat-file", "--batch"], self._root, kept=self._kept)
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(name.encode(errors="surrogateescape") + b"\n")
            stdin.flush()
        except BrokenPipeError:
            header = b""
        else:
            header = stdout.readline()
        if not header:
            stderr = self._proc.communicate()[1].decode(errors="replace")
            self._proc = None
            raise GitCommandError(["cat-file", "--batch"], 128, stderr or "cat-file exited")
        fields = header.split()
        if len(fields) != 3:
            return None  # "<name> missing" or "<name> ambiguous"
        size = int(fields[2])
        body = stdout.read(size + 1)[:size]
        return fields[0].decode(), fields[1].decode(), body

    def commit(self, name: str) -> CommitInfo | None:
        found = self.read(name)
        if found is None or found[1] != "commit":
            return None
        return parse_commit(found[0], found[2])

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
        if _OBJECT_ID.fullmatch(sha):
            if self._kept_entries + len(entries) > _KEPT_ENTRIES:
                self.forget_trees()
            self._trees[sha] = entries
            self._kept_entries += len(entries)
        return dict(entries)


class _TooManyChanges(Exception):
    pass


def _kind(mode: str) -> str:
    return {SYMLINK_MODE: "symlink", GITLINK_MODE: "gitlink"}.get(mode, "file")


def diff_trees(
    reader: ObjectReader, old: str | None, new: str, limit: int
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

    def every_file(status: str, path: str, sha: str) -> None:
        walk(path + "/", {}, load(sha)) if status == "A" else walk(path + "/", load(sha), {})

    def walk(prefix: str, before: dict[str, TreeEntry], after: dict[str, TreeEntry]) -> None:
        for name in sorted(before.keys() | after.keys()):
            was, now = before.get(name), after.get(name)
            if was == now:
                continue
            path = prefix + name
            if was is not None and now is not None and was.is_tree and now.is_tree:
                walk(path + "/", load(was.sha), load(now.sha))
                continue
            if was is not None and now is not None and not was.is_tree and not now.is_tree:
                changes.append(("M" if _kind(was.mode) == _kind(now.mode) else "T", path))
                continue
            if was is not None:
                every_file("D", path, was.sha) if was.is_tree else changes.append(("D", path))
            if now is not None:
                every_file("A", path, now.sha) if now.is_tree else changes.append(("A", path))

    try:
        walk("", load(old) if old else {}, load(new))
    except _TooManyChanges:
        return None
    return changes
