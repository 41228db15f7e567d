"""Finding the working tree autocommit acts on, and refusing the ones it cannot."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autocommit import git
from autocommit.errors import AutocommitError


@dataclass(frozen=True)
class Worktree:
    """One working tree of a repository (the main one or a linked ``git worktree``)."""

    root: Path  # top of the working tree
    git_dir: Path  # this worktree's own git dir (.git, or .git/worktrees/<id>)
    common_dir: Path  # the repository's shared git dir (objects, refs, config)

    @property
    def linked_id(self) -> str | None:
        """The id of a linked worktree (``.git/worktrees/<id>``), None for the main one."""
        return None if self.git_dir == self.common_dir else self.git_dir.name

    @property
    def state_dir(self) -> Path:
        """Where autocommit keeps this worktree's private files (index, lock, daemon)."""
        return self.git_dir / "autocommit"

    def git(self, *args: str) -> str:
        return git.out(args, self.root)


def find_worktree(start: Path | str | None = None) -> Worktree:
    """The working tree containing ``start`` (default: the current directory).

    Raises a one-line :class:`AutocommitError` for a path that is not in a git working
    tree: a plain directory, a bare repository, or the inside of a ``.git`` directory.
    """
    where = Path(start if start is not None else os.getcwd()).absolute()
    if not where.exists():
        raise AutocommitError(f"{where} does not exist", "pass a path inside a git repository")
    if where.is_file():
        where = where.parent
    proc = git.run(
        [
            "rev-parse",
            "--is-bare-repository",
            "--is-inside-work-tree",
            "--absolute-git-dir",
            "--git-common-dir",
            "--show-toplevel",
        ],
        where,
        check=False,
    )
    if proc.returncode != 0:
        raise AutocommitError(
            f"not a git repository: {where}",
            "run this inside a git working tree (or `git init` one first)",
        )
    lines = proc.stdout.decode(errors="surrogateescape").splitlines()
    is_bare, inside, git_dir, common_dir = lines[:4]
    if is_bare == "true":
        raise AutocommitError(
            f"{where} is a bare repository, which has no working tree to snapshot",
            "run autocommit in a clone or `git worktree add` of it",
        )
    if inside != "true" or len(lines) < 5:
        raise AutocommitError(
            f"{where} is inside a git directory, not a working tree",
            "cd to the top of the working tree",
        )
    common = Path(common_dir)
    if not common.is_absolute():
        common = (where / common).resolve()
    return Worktree(root=Path(lines[4]), git_dir=Path(git_dir), common_dir=common.resolve())
