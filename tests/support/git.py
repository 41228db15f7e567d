"""Helpers for tests that drive real git repositories."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def git(
    cwd: Path,
    *args: str,
    input: bytes | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> str:
    """Run real git as a user would (no scrubbing): returns stdout text. ``env``: variables
    added to the environment."""
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                          check=False, env={**os.environ, **env} if env else None)  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(
            f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()}"
        )
    return proc.stdout.decode(errors="surrogateescape")


def new_repository(root: Path, files: dict[str, str], message: str = "initial") -> Path:
    """A repository at ``root`` (created if need be) whose one commit holds ``files``."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return root


def walk(top: Path | str) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` (top-down, without following links; prune by editing the directory
    list) without recursion: os.walk recurses on Python < 3.12, and trees can be deeper
    than the recursion limit."""
    stack = [str(top)]
    while stack:
        directory = stack.pop()
        dirs: list[str] = []
        files: list[str] = []
        with os.scandir(directory) as entries:
            for entry in entries:
                (dirs if entry.is_dir(follow_symlinks=False) else files).append(entry.name)
        yield directory, dirs, files
        stack.extend(os.path.join(directory, name) for name in reversed(dirs))


def exists(root: Path, sha: str) -> bool:
    proc = subprocess.run(["git", "cat-file", "-e", sha], cwd=root, capture_output=True)
    return proc.returncode == 0


def assert_fsck_clean(root: Path) -> None:
    proc = subprocess.run(["git", "fsck", "--full", "--strict", "--no-dangling"], cwd=root,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def identity_of(cwd: Path, commit: str) -> tuple[dict[str, str], str]:
    """``(environment, message)``: the ``GIT_AUTHOR_*``/``GIT_COMMITTER_*`` variables that
    make ``git commit-tree`` repeat ``commit``'s author, committer and dates, and its
    message."""
    header, _, message = git(cwd, "cat-file", "commit", commit).partition("\n\n")
    fields = dict(line.split(" ", 1) for line in header.splitlines())
    env: dict[str, str] = {}
    for role in ("author", "committer"):
        name, _, rest = fields[role].partition(" <")
        email, _, date = rest.partition("> ")
        prefix = f"GIT_{role.upper()}_"
        env.update({prefix + "NAME": name, prefix + "EMAIL": email, prefix + "DATE": date})
    return env, message


def tree_listing(cwd: Path, rev: str) -> dict[str, tuple[str, str]]:
    """``{path: (mode, blob sha)}`` of every entry of ``rev``'s tree, recursively."""
    out = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--full-tree", rev],
        cwd=cwd, capture_output=True, check=True,
    ).stdout  # fmt: skip
    found: dict[str, tuple[str, str]] = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        mode, _kind, sha = meta.decode().split()
        found[path.decode(errors="surrogateescape")] = (mode, sha)
    return found


def disk_listing(root: Path, only: set[str] | None = None) -> dict[str, tuple[str, str]]:
    """``{path: (mode, blob sha)}`` of the files under ``root``, read from disk without git.

    The same form as :func:`tree_listing`, so a checkout can be compared
    with a commit's tree: bytes, exec bit and symlinks.
    """
    found: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        names = list(filenames) + [d for d in dirnames if Path(dirpath, d).is_symlink()]
        for name in names:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if rel == ".git" or (only is not None and rel not in only):
                continue
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                mode, data = "120000", os.readlink(path).encode()
            else:
                mode = "100755" if info.st_mode & stat.S_IXUSR else "100644"
                data = path.read_bytes()
            sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            found[rel] = (mode, sha)
    return found


@dataclass(frozen=True)
class UserState:
    """Everything of the user's that autocommit promises never to change."""

    index_stage: str
    index_bytes: bytes
    head: str
    refs: str
    files: dict[str, bytes]

    @property
    def git_state(self) -> tuple[bytes, str, str]:
        """The index byte for byte, HEAD and the refs (``refs/autocommit/*`` aside):
        what a test whose working tree legitimately changes still compares."""
        return self.index_bytes, self.head, self.refs


def user_state(root: Path) -> UserState:
    git_dir = Path(git(root, "rev-parse", "--absolute-git-dir").strip())
    index = git_dir / "index"
    refs = "\n".join(
        line
        for line in git(root, "for-each-ref", "--format=%(objectname) %(refname)").splitlines()
        if " refs/autocommit/" not in line
    )
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                files[rel] = os.readlink(path).encode()
            elif path.is_file():
                files[rel] = path.read_bytes()
            else:  # a FIFO or socket (reading a FIFO would wait for a writer)
                files[rel] = b"<%o>" % os.lstat(path).st_mode
    return UserState(
        index_stage=git(root, "ls-files", "-s"),
        index_bytes=index.read_bytes() if index.exists() else b"",
        head=(git_dir / "HEAD").read_text(),
        refs=refs,
        files=files,
    )


def assert_private(state_dir: Path) -> None:
    """The directory and everything under it: directories 0700, nothing else open to
    group or others."""
    assert state_dir.is_dir()
    wide: list[str] = []
    for path in [state_dir, *state_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir() and not path.is_symlink():
            if mode != 0o700:
                wide.append(f"{path.relative_to(state_dir.parent)} {mode:o}")
        elif mode & 0o077:
            wide.append(f"{path.relative_to(state_dir.parent)} {mode:o}")
    assert wide == [], wide


def age(*paths: Path, seconds: float = 60) -> None:
    """Make files look written ``seconds`` ago (caches trust only settled files)."""
    past = time.time() - seconds
    for path in paths:
        os.utime(path, (past, past))


def calls_to(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[str]:
    """The first argument of every call to ``owner.name`` from now on (it still runs)."""
    real = getattr(owner, name)
    seen: list[str] = []

    def counted(first: str, *args: object, **kwargs: object) -> object:
        seen.append(first)
        return real(first, *args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return seen
