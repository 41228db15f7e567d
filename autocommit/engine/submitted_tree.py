"""A submitted run's tree, checked on the worker that received its files.

At submission (``autocommit.launch_env()``), the run commit's tree is described by a
*manifest*: each path with its mode and the first 12 hex digits of its id, plus the paths
the snapshot left out (secret-looking, too large, …). It travels in an environment variable
(a launcher passes environment variables everywhere; nothing is written into the user's
working tree), compressed, and only when it stays under :data:`MAX_MANIFEST` characters
(Linux refuses a single variable over 128 KiB).

On the worker (no git, no objects), the files that count are those the manifest names plus
every other file no ``.gitignore`` there ignores and the snapshot did not leave out; their
git tree id, computed in Python (:mod:`autocommit.gitio.tree_hash`), must equal the
submitted one. When it does not, the manifest names the paths that differ; without one
(a tree too large to describe), files that git tracked although ignored are not known
and the check can only say that something differs.
"""

from __future__ import annotations

import base64
import binascii
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from autocommit.contract import quote_path, unquote_path
from autocommit.gitio import git
from autocommit.gitio.objects import GITLINK_MODE
from autocommit.gitio.tree_hash import file_entry, tree_id

MAX_MANIFEST = 96_000  # characters of the encoded manifest
SHORT_ID = 12  # hex digits of a blob id kept in the manifest (a gitlink keeps all)
MAX_NAMED = 20  # differing paths named by a failed check
_UNLISTED = "# unlisted"  # the manifest's last line when its entries were left out


@dataclass(frozen=True)
class Manifest:
    entries: dict[str, tuple[str, str]]  # path → (mode, id: short for blobs, full for gitlinks)
    left_out: frozenset[str] = frozenset()  # paths the snapshot skipped (a directory ends in /)
    listed: bool = True  # False: ``entries`` left out, the tree being too large to list

    def encode(self) -> str:
        lines = [f"{mode} {sha} {quote_path(path)}" for path, (mode, sha) in self.entries.items()]
        lines += [f"- - {quote_path(path)}" for path in sorted(self.left_out)]
        lines += [] if self.listed else [_UNLISTED]
        return base64.b64encode(zlib.compress("\n".join(lines).encode(), 9)).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Manifest:
        """The manifest ``text`` encodes; ValueError when it is not one."""
        try:
            lines = zlib.decompress(base64.b64decode(text, validate=True)).decode().split("\n")
        except (binascii.Error, zlib.error, UnicodeDecodeError) as exc:
            raise ValueError(f"not a manifest: {exc}") from exc
        entries: dict[str, tuple[str, str]] = {}
        left_out: set[str] = set()
        listed = True
        for line in filter(None, lines):
            if line == _UNLISTED:
                listed = False
                continue
            mode, sha, path = line.split(" ", 2)
            if mode == "-":
                left_out.add(unquote_path(path))
            else:
                entries[unquote_path(path)] = (mode, sha)
        return cls(entries, frozenset(left_out), listed)

    def encode_within(self, limit: int = MAX_MANIFEST) -> str:
        """:meth:`encode`, without the entries when they would take more than ``limit``
        characters (the paths left out are few: they always go)."""
        text = self.encode()
        if len(text) <= limit:
            return text
        return Manifest({}, self.left_out, listed=False).encode()


def manifest_of(root: Path, tree: str, left_out: list[str]) -> Manifest:
    """The manifest of ``tree`` (read with ``git ls-tree``) and the paths left out of it."""
    listing = git.run(["ls-tree", "-r", "-z", "--full-tree", "--end-of-options", tree], root)
    entries: dict[str, tuple[str, str]] = {}
    for record in git.nul_split(listing.stdout):
        info, _, path = record.partition("\t")
        mode, _, sha = info.split(" ")
        entries[path] = (mode, sha if mode == GITLINK_MODE else sha[:SHORT_ID])
    return Manifest(entries, frozenset(left_out))


@dataclass
class Check:
    """How a directory compares with a submitted tree."""

    tree: str  # the tree id of the directory's files
    differing: list[str] = field(default_factory=list)  # `<path> (<how>)`, at most MAX_NAMED
    more: int = 0  # differing paths not named

    def verified(self, submitted: str) -> bool:
        return self.tree == submitted


def check(directory: Path, submitted: str, manifest: Manifest | None) -> Check:
    """Compare the files under ``directory`` with the tree ``submitted``."""
    present = list(_files(directory))
    ignores = _IgnoreRules(directory, [p for p in present if os.path.basename(p) == ".gitignore"])
    known = manifest.entries if manifest is not None else {}
    left_out = manifest.left_out if manifest is not None else frozenset()
    extra = [
        path
        for path in present
        if path not in known and not ignores.ignored(path) and not _under(path, left_out, known)
    ]
    entries: dict[str, tuple[str, str]] = {}
    for path in (*(p for p in present if p in known), *extra):
        found = file_entry(os.path.join(directory, path), submitted)
        if found is not None:
            entries[path] = found
    for path, (mode, sha) in known.items():
        if mode == GITLINK_MODE:  # a submodule's commit cannot be checked without git
            entries[path] = (mode, sha)
    result = Check(tree_id(entries, submitted))
    if manifest is not None and manifest.listed and not result.verified(submitted):
        _name_differences(result, manifest, entries, extra)
    return result


def _name_differences(
    result: Check, manifest: Manifest, entries: dict[str, tuple[str, str]], extra: list[str]
) -> None:
    differing: list[str] = []
    for path, (mode, sha) in sorted(manifest.entries.items()):
        here = entries.get(path)
        if here is None:
            differing.append(f"{path} (missing here)")
        elif here[0] != mode:
            differing.append(f"{path} (mode {here[0]}, submitted {mode})")
        elif not here[1].startswith(sha):
            differing.append(f"{path} (content differs)")
    differing += [f"{path} (not submitted)" for path in sorted(extra) if path in entries]
    result.differing = [quote_path(d) if "\n" in d else d for d in differing[:MAX_NAMED]]
    result.more = max(0, len(differing) - MAX_NAMED)


def _under(path: str, left_out: frozenset[str], known: dict[str, tuple[str, str]]) -> bool:
    """Whether ``path`` was left out at submission, or lies in a submodule."""
    if path in left_out:
        return True
    parts = path.split("/")
    for i in range(1, len(parts)):
        prefix = "/".join(parts[:i])
        if prefix + "/" in left_out or known.get(prefix, ("",))[0] == GITLINK_MODE:
            return True
    return False


def _files(directory: Path) -> Iterator[str]:
    """Every file and symlink under ``directory`` (``/``-separated), ``.git`` left out; a
    symlink to a directory is a symlink (git does not follow it). One ``scandir`` per
    directory, no ``stat``: the directory entries' types say it all."""
    stack = [("", str(directory))]
    while stack:
        prefix, here = stack.pop()
        with os.scandir(here) as entries:
            for entry in entries:
                if entry.name == ".git":
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((prefix + entry.name + "/", entry.path))
                else:
                    yield prefix + entry.name


class _IgnoreRules:
    """The ``.gitignore`` files present, each matched relative to its directory; a deeper
    file's verdict wins, as in git."""

    def __init__(self, directory: Path, ignore_files: list[str]) -> None:
        self._specs: dict[str, pathspec.GitIgnoreSpec] = {}
        for path in ignore_files:
            try:
                lines = (directory / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            base = path.rpartition("/")[0]
            self._specs[base + "/" if base else ""] = pathspec.GitIgnoreSpec.from_lines(
                lines.splitlines()
            )

    def ignored(self, path: str) -> bool:
        verdict = False
        for base in sorted(self._specs, key=len):  # the top first: deeper files win
            if path.startswith(base):
                found = self._specs[base].check_file(path[len(base) :])
                if found.include is not None:
                    verdict = found.include
        return verdict
