"""Ref names of the public contract, pins, and compare-and-swap ref updates.

All of autocommit's refs live under ``refs/autocommit/`` so that ``git branch``,
``git push --all`` and clones leave them alone.
"""

from __future__ import annotations

from pathlib import Path

from autocommit import git
from autocommit.repo import Worktree

NAMESPACE = "refs/autocommit/"
SHADOW_PREFIX = NAMESPACE + "heads/"
PIN_PREFIX = NAMESPACE + "pins/"
DETACHED_PREFIX = NAMESPACE + "detached/"


def shadow_ref(worktree: Worktree, head_ref: str | None) -> str:
    """The shadow branch for a HEAD.

    ``refs/heads/<branch>`` → ``refs/autocommit/heads/<branch>``. A detached HEAD has
    no branch, so its snapshots go to one chain per working tree:
    ``refs/autocommit/detached/HEAD`` for the main worktree and
    ``refs/autocommit/detached/worktrees/<id>`` for a linked one.
    """
    if head_ref and head_ref.startswith("refs/heads/"):
        return SHADOW_PREFIX + head_ref.removeprefix("refs/heads/")
    if worktree.linked_id is None:
        return DETACHED_PREFIX + "HEAD"
    return DETACHED_PREFIX + "worktrees/" + worktree.linked_id


def pin_ref(commit: str) -> str:
    return PIN_PREFIX + commit


def compare_and_swap(cwd: Path, ref: str, new: str, old: str | None, message: str) -> bool:
    """Point ``ref`` at ``new`` only if it still points at ``old`` (None: must not exist).

    Writes a reflog entry. Returns False when someone else moved the ref first.
    """
    proc = git.run(
        ["update-ref", "--create-reflog", "-m", message, ref, new, old or git.ZERO_OID],
        cwd,
        check=False,
    )
    return proc.returncode == 0


def swap_and_pin(
    cwd: Path, ref: str, new: str, old: str | None, message: str, pins: list[str]
) -> bool:
    """:func:`compare_and_swap` and pin ``pins``, in one transaction: all or nothing.

    ``ref`` must have a reflog already (``--create-reflog`` would give each pin one too).
    """
    lines = [f"update {ref} {new} {old or git.ZERO_OID}\n"]
    lines += [f"update {pin_ref(commit)} {commit}\n" for commit in pins]
    proc = git.run(["update-ref", "-m", message, "--stdin"], cwd,
                   input="".join(lines).encode(), check=False)  # fmt: skip
    return proc.returncode == 0


def pin_seen(worktree: Worktree, commit: str) -> bool:
    """Whether ``commit``'s pin is there as a loose ref file, which is proof enough.

    A packed pin (or one in a reftable) looks absent: pinning it again is harmless.
    """
    return (worktree.common_dir / pin_ref(commit)).is_file()


def pin(cwd: Path, commit: str, reason: str = "pinned by autocommit") -> str:
    """Keep ``commit`` reachable through ``refs/autocommit/pins/<commit>``; idempotent."""
    ref = pin_ref(commit)
    git.run(["update-ref", "-m", reason, ref, commit], cwd)
    return ref


def unpin(cwd: Path, commit: str) -> None:
    git.run(["update-ref", "-d", pin_ref(commit)], cwd, check=False)


def list_refs(cwd: Path, prefix: str = NAMESPACE) -> dict[str, str]:
    """``{refname: sha}`` for every ref under ``prefix``."""
    text = git.out(["for-each-ref", "--format=%(objectname) %(refname)", prefix], cwd)
    pairs = (line.split(" ", 1) for line in text.splitlines() if line)
    return {name: sha for sha, name in pairs}
