"""``push_on_run``: each new pin of a run pushed once, in the background.

Two processes whose runs got the same run commit may both find its pin new; only the
one that claims the push (an ``O_EXCL`` file, atomic across processes) starts it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from autocommit import background, contract, state_files
from autocommit.gitio import git
from autocommit.gitio.repo import Worktree

CLAIMS = "push-claims"  # under <common git dir>/autocommit/: one file per pin pushed on run
CLAIM_TTL = 24 * 3600.0


def push_in_background(worktree: Worktree, commit: str, remote: str) -> bool:
    """Start ``autocommit push --pin <commit> <remote>`` detached, and return at once;
    False when another process claimed that push first (:func:`claim_push`).

    For ``push_on_run``: costs one fork/exec in the caller. The push survives the caller's
    exit (its own session); its output goes to ``<git-dir>/autocommit/push.log``.
    """
    if not claim_push(worktree, commit):
        return False
    background.start(worktree.root, ["push", "--quiet", "--pin", commit, "--", remote],
                     worktree.state_dir / "push.log", git.scrubbed_env())  # fmt: skip
    return True


def claim_push(worktree: Worktree, commit: str) -> bool:
    """Whether this process is the one to push ``commit``'s new pin.

    Two processes whose runs got the same run commit may both find its pin new; the
    one that creates the claim file (``O_EXCL``, atomic) pushes. The claims live in the
    repository's autocommit directory, shared by its working trees; one older than
    :data:`CLAIM_TTL` is removed (by then every process sees the pin itself).
    """
    if not contract.OBJECT_ID.fullmatch(commit):
        raise ValueError(f"not a commit id: {commit!r}")
    claims = worktree.common_dir / "autocommit" / CLAIMS
    state_files.ensure_dir(claims)
    try:
        os.close(state_files.open_fd(claims / commit, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    _forget_old_claims(claims)
    return True


def _forget_old_claims(claims: Path) -> None:
    too_old = time.time() - CLAIM_TTL
    with os.scandir(claims) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < too_old:
                    os.unlink(entry.path)
