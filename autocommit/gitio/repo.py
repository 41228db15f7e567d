"""Finding the working tree autocommit acts on, and refusing the ones it cannot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from autocommit.errors import AutocommitError
from autocommit.gitio import git
from autocommit.state_layout import STATE_DIR


class Worktree(NamedTuple):
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
        return self.git_dir / STATE_DIR


# The variables with which a user points git at a repository from anywhere (git's own
# hooks export them too: those callers pass the directory to start from instead).
_LOCATION_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE")


def find_worktree(start: Path | str | None = None) -> Worktree:
    """The working tree containing ``start`` (default: the current directory, or the
    repository ``GIT_DIR``/``GIT_WORK_TREE`` name when they are set, as for git).

    Raises a one-line :class:`AutocommitError` for a path that is not in a git working
    tree: a plain directory, a bare repository, the inside of a ``.git`` directory, or
    a repository whose format autocommit does not read.
    """
    if start is None and any(os.environ.get(name) for name in _LOCATION_VARIABLES):
        return _named_by_environment()
    where = Path(start if start is not None else os.getcwd()).absolute()
    if not where.exists():
        raise AutocommitError(f"{where} does not exist", "pass a path inside a git repository")
    if where.is_file():
        where = where.parent
    return _ask_git(where, {})


def _named_by_environment() -> Worktree:
    """The working tree ``GIT_DIR``/``GIT_WORK_TREE`` name, when git finds the same one
    from its top without them: every git process autocommit starts runs without these
    variables (a hook exports them too), so a working tree separate from its git dir
    (no ``.git`` leading to it) is refused rather than half supported."""
    given = {name: os.environ[name] for name in _LOCATION_VARIABLES if os.environ.get(name)}
    shown = " ".join(f"{name}={value}" for name, value in given.items())
    named = {name: str(Path(value).absolute()) for name, value in given.items()}
    # Asked from the work tree it names: from outside it, git says "not inside a work tree".
    where = Path(named.get("GIT_WORK_TREE", os.getcwd()))
    if not where.is_dir():
        raise AutocommitError(f"{shown}: no such directory", "fix or unset GIT_WORK_TREE")
    worktree = _ask_git(where, named, shown)
    try:
        found = _ask_git(worktree.root, {})
    except AutocommitError:
        found = None
    if found != worktree:
        raise AutocommitError(
            f"{shown} names the working tree {worktree.root} with the git dir "
            f"{worktree.git_dir}, which git does not find from that tree by itself",
            "autocommit needs a working tree whose .git leads to its repository: use a "
            "clone or `git worktree add`, or unset GIT_DIR and GIT_WORK_TREE",
        )
    return worktree


def _ask_git(where: Path, env: dict[str, str], named: str = "") -> Worktree:
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
        env=env,
        check=False,
    )
    lines = proc.stdout.decode(errors="surrogateescape").splitlines()
    if lines[:1] == ["true"]:  # --show-toplevel fails in a bare repository
        raise AutocommitError(
            f"{named or where} is a bare repository, which has no working tree to snapshot",
            "run autocommit in a clone or `git worktree add` of it",
        )
    if proc.returncode != 0 or len(lines) < 4:
        _refuse_unknown_format(proc.stderr.decode(errors="replace"), where)
        raise AutocommitError(
            f"not a git repository: {named or where}",
            "run this inside a git working tree (or `git init` one first)",
        )
    _, inside, git_dir, common_dir = lines[:4]
    if inside != "true" or len(lines) < 5:
        raise AutocommitError(
            f"{named or where} is inside a git directory, not a working tree",
            "cd to the top of the working tree",
        )
    common = Path(common_dir)
    if not common.is_absolute():
        common = (where / common).resolve()
    worktree = Worktree(root=Path(lines[4]), git_dir=Path(git_dir), common_dir=common.resolve())
    refuse_unsupported(worktree)
    return worktree


# Ref stores whose files autocommit reads itself (refs.py reads loose refs and
# packed-refs; the daemon watches refs/heads/): only git's classic "files" store.
_KNOWN_REF_STORAGE = {"files"}


def refuse_unsupported(worktree: Worktree) -> None:
    """Raise a one-line :class:`AutocommitError` for a repository whose refs autocommit
    cannot read exactly (``extensions.refStorage`` other than ``files``, e.g. reftable).

    Only the repository's own config can set an extension: read without git unless it
    names one (one ``git config`` then)."""
    config = worktree.common_dir / "config"
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    if "refstorage" not in text.lower():
        return
    proc = git.run(["config", "--file", str(config), "--get", "extensions.refStorage"],
                   worktree.root, check=False)  # fmt: skip
    storage = proc.stdout.decode(errors="replace").strip()
    if storage and storage.lower() not in _KNOWN_REF_STORAGE:
        raise AutocommitError(
            f"{worktree.root} keeps its refs in the {storage!r} format "
            f"(extensions.refStorage), which autocommit does not read",
            "use autocommit in a repository with git's default ref store (files)",
        )


def _refuse_unknown_format(stderr: str, where: Path) -> None:
    """git refused the repository itself: say so rather than "not a git repository"."""
    if "unknown repository extension" in stderr or "repository format version" in stderr:
        what = " ".join(stderr.replace("fatal:", "").split())
        raise AutocommitError(
            f"{where}: this git cannot read the repository ({what})",
            "upgrade git, or use autocommit in a repository this git reads",
        )
