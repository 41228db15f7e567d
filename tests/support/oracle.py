"""The one tree oracle: what a snapshot of a working tree must hold, computed without
autocommit (only the file system and plain git).

- ``expected_tree(root, left_out)``: the tree id ``git add -A`` records into a throwaway
  copy of the user's index, minus the untracked paths reported as left out. For tests
  whose trees hold nothing autocommit leaves out by itself (or that name what it left out).
- ``expected_listing(root, ...)`` / ``assert_exact``: ``{path: (mode, id)}`` from a walk of
  the tree: tracked paths from the user's index, untracked files by walking the tree and
  asking ``git check-ignore``, blob ids from ``git hash-object`` (which applies the clean
  filters and eol conversion), modes from ``lstat``, minus the exclusions (secret-looking
  names, the size cap, owner-only files, nested repositories), each an option.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from autocommit.settings.config import DEFAULT_SECRET_PATTERNS
from tests.support.git import git, tree_listing, walk

DEFAULT_MAX_SIZE = 5 * 1024**2

Listing = dict[str, tuple[str, str]]


def _git_bytes(
    cwd: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None
) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          check=False, env={**os.environ, **env} if env else None)  # fmt: skip
    if proc.returncode not in (0, 1):
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr.decode()}")
    return proc.stdout


def _split(data: bytes) -> list[str]:
    return [p.decode(errors="surrogateescape") for p in data.split(b"\0") if p]


def _config_bool(root: Path, key: str) -> bool:
    value = git(root, "config", "--type=bool", key, check=False).strip()
    return value != "false"


def _has_symlinked_or_missing_parent(root: Path, path: str) -> bool:
    parts = path.split("/")
    for depth in range(1, len(parts)):
        ancestor = root / "/".join(parts[:depth])
        if ancestor.is_symlink() or not ancestor.is_dir():
            return True
    return False


def _walk(root: Path) -> tuple[list[str], list[str]]:
    """Files and symlinks under ``root`` (not in .git), and nested repositories found."""
    files: list[str] = []
    nested: list[str] = []
    for dirpath, dirnames, filenames in walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir != "." and os.path.lexists(os.path.join(dirpath, ".git")):
            nested.append(rel_dir.replace(os.sep, "/"))
            dirnames[:] = []
            continue
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d != ".git"]
            filenames = [f for f in filenames if f != ".git"]  # a linked worktree's
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            info = os.lstat(full)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                files.append(rel)
    return files, nested


def _is_secret(path: str, patterns: tuple[str, ...]) -> bool:
    """Whether a pattern names the file (``name``), a file under a directory
    (``dir/``), or the path's last components (``**/dir/name``)."""
    parts = path.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            if any(fnmatch.fnmatchcase(d, pattern[:-1]) for d in parts[:-1]):
                return True
            continue
        tail = pattern.removeprefix("**/").split("/")
        if len(tail) <= len(parts) and all(
            fnmatch.fnmatchcase(name, p) for name, p in zip(parts[-len(tail) :], tail, strict=True)
        ):
            return True
    return False


def _blob_id(root: Path, path: str) -> str:
    full = root / path
    if full.is_symlink():
        target = os.fsencode(os.readlink(full))
        return hashlib.sha1(b"blob %d\0" % len(target) + target).hexdigest()
    quoted = path if path.isprintable() else None
    if quoted is not None:
        return git(root, "hash-object", "--", path).strip()
    # A name with a newline: hash-object reads it from stdin with the right path for filters.
    return git(root, "hash-object", "--stdin", f"--path={path}", input=full.read_bytes()).strip()


def expected_listing(
    root: Path,
    *,
    max_file_size: int = DEFAULT_MAX_SIZE,
    secret_patterns: tuple[str, ...] = DEFAULT_SECRET_PATTERNS,
    include_private: bool = False,
) -> Listing:
    """``{path: (mode, id)}`` of everything a snapshot of ``root`` must hold right now."""
    file_mode = _config_bool(root, "core.filemode")
    expected: Listing = {}
    tracked: dict[str, str] = {}  # path → mode in the user's index
    indexed: Listing = {}  # path → mode, id in the user's index (stage 0)
    flagged: set[str] = set()  # skip-worktree or assume-unchanged: git keeps the index's
    for entry in _split(_git_bytes(root, "ls-files", "-s", "-v", "-z")):
        meta, path = entry[2:].split("\t", 1)
        mode, sha, stage = meta.split()
        tracked[path] = mode
        if stage == "0":
            indexed[path] = (mode, sha)
            if entry[0] == "S" or entry[0].islower():
                flagged.add(path)
    files, nested = _walk(root)
    for path, index_mode in tracked.items():
        full = root / path
        if path in flagged:
            expected[path] = indexed[path]
            continue
        if index_mode == "160000":
            head = git(full, "rev-parse", "HEAD", check=False).strip() if full.is_dir() else ""
            expected[path] = ("160000", head or git(root, "rev-parse", f":{path}").strip())
            continue
        if _has_symlinked_or_missing_parent(root, path) or not os.path.lexists(full):
            continue
        info = os.lstat(full)
        if stat.S_ISLNK(info.st_mode):
            expected[path] = ("120000", _blob_id(root, path))
        elif stat.S_ISREG(info.st_mode):
            if file_mode:
                mode = "100755" if info.st_mode & stat.S_IXUSR else "100644"
            else:
                mode = index_mode if index_mode.startswith("100") else "100644"
            expected[path] = (mode, _blob_id(root, path))
        elif stat.S_ISDIR(info.st_mode):
            continue  # a directory where the file was: gone, its files are untracked
        elif path in indexed:  # a FIFO, say: git cannot add it and keeps the index's
            expected[path] = indexed[path]
    untracked = [p for p in files if p not in tracked]
    # ":(top)" makes every name a name (check-ignore takes pathspec magic, `:!x` too).
    asked = _join([":(top)" + p for p in untracked])
    answer = _split(_git_bytes(root, "check-ignore", "-z", "--stdin", input=asked))
    ignored = {p.removeprefix(":(top)") for p in answer}
    for path in untracked:
        if path in ignored or _is_secret(path, secret_patterns):
            continue
        info = os.lstat(root / path)
        if stat.S_ISREG(info.st_mode) and info.st_size > max_file_size:
            continue
        if stat.S_ISREG(info.st_mode) and not include_private and not info.st_mode & 0o044:
            continue  # readable by its owner alone
        mode = "120000" if stat.S_ISLNK(info.st_mode) else "100644"
        if file_mode and stat.S_ISREG(info.st_mode) and info.st_mode & stat.S_IXUSR:
            mode = "100755"
        expected[path] = (mode, _blob_id(root, path))
    del nested  # nested repositories are left out
    return expected


def _join(paths: list[str]) -> bytes:
    return b"".join(p.encode(errors="surrogateescape") + b"\0" for p in paths)


def expected_tree(root: Path, left_out: Iterable[str] = ()) -> str:
    """The tree ``git add -A`` records into a throwaway copy of the user's index
    (``--sparse``: files outside a sparse checkout's cone too), minus the untracked paths
    reported as left out. A file git cannot add (unreadable, a FIFO) keeps the index's
    version, as ``--ignore-errors`` keeps it. Without an index (no commit yet), from an
    empty one.

    A copy of the user's index, not one read from HEAD: a path the user force-added over
    an ignore rule is tracked, and so in the snapshot."""
    git_dir = Path(git(root, "rev-parse", "--absolute-git-dir").strip())
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        if (git_dir / "index").exists():
            shutil.copy2(git_dir / "index", index)
        env = {"GIT_INDEX_FILE": str(index)}
        tracked = set(_split(_git_bytes(root, "ls-files", "-z", env=env)))
        _git_bytes(root, "add", "-A", "--sparse", "--ignore-errors", env=env)
        dropped = [p for p in left_out if p not in tracked]
        _git_bytes(root, "update-index", "--force-remove", "-z", "--stdin",
                   input=_join(dropped), env=env)  # fmt: skip
        return _git_bytes(root, "write-tree", env=env).decode().strip()


def snapshot_listing(root: Path, rev: str) -> Listing:
    """``{path: (mode, id)}`` of a snapshot's tree (blobs, symlinks and gitlinks)."""
    return tree_listing(root, rev)


def nested_repositories(root: Path) -> list[str]:
    return _walk(root)[1]


def assert_exact(root: Path, tree: str, **exclusions: object) -> None:
    """The snapshot tree ``tree`` holds exactly what the working tree holds now."""
    expected = expected_listing(root, **exclusions)  # type: ignore[arg-type]
    actual = snapshot_listing(root, tree)
    missing = {p: v for p, v in expected.items() if actual.get(p) != v}
    extra = {p: v for p, v in actual.items() if p not in expected}
    assert not missing and not extra, f"missing or different: {missing}; extra: {extra}"
