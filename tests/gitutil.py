"""Helpers for tests that drive real git repositories."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


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


def exists(root: Path, sha: str) -> bool:
    proc = subprocess.run(["git", "cat-file", "-e", sha], cwd=root, capture_output=True)
    return proc.returncode == 0


def assert_fsck_clean(root: Path) -> None:
    proc = subprocess.run(["git", "fsck", "--full", "--strict", "--no-dangling"], cwd=root,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


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


@dataclass(frozen=True)
class UserState:
    """Everything of the user's that autocommit promises never to change."""

    index_stage: str
    index_bytes: bytes
    head: str
    refs: str
    files: dict[str, bytes]


def user_state(root: Path) -> UserState:
    git_dir = Path(git(root, "rev-parse", "--absolute-git-dir").strip())
    index = git_dir / "index"
    refs = "\n".join(
        line
        for line in git(root, "for-each-ref", "--format=%(objectname) %(refname)").splitlines()
        if " refs/autocommit/" not in line
    )
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            files[rel] = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
    return UserState(
        index_stage=git(root, "ls-files", "-s"),
        index_bytes=index.read_bytes() if index.exists() else b"",
        head=(git_dir / "HEAD").read_text(),
        refs=refs,
        files=files,
    )
