"""Reading and moving refs: shadow branches, pins, compare-and-swap updates.

All of autocommit's refs live under ``refs/autocommit/`` (the names are in
:mod:`autocommit.contract`), so that ``git branch``, ``git push --all`` and clones leave
them alone.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

from autocommit import contract
from autocommit.contract import DETACHED_PREFIX, NAMESPACE, PIN_PREFIX, SHADOW_PREFIX
from autocommit.errors import GitCommandError
from autocommit.gitio import git
from autocommit.gitio.piped import PipedGit
from autocommit.gitio.repo import Worktree

SNAPSHOT_MESSAGE = "autocommit: snapshot"  # the reflog message of every snapshot


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


def read_ref(worktree: Worktree, ref: str) -> str | None:
    """The object id ``ref`` (a branch or one of autocommit's refs) points to, read from
    its loose ref file, else from ``packed-refs``, without starting git. None when it is
    in neither (no such ref, another ref store): ask git then.

    git replaces ref files whole, and a loose ref wins over a packed one, as for git.
    """
    if not ref.startswith(("refs/heads/", NAMESPACE)):
        return None  # other refs may live in the worktree's own git dir
    try:
        text = (worktree.common_dir / ref).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return _packed_ref(worktree, ref)
    except (OSError, UnicodeDecodeError):
        return None
    return text if contract.OBJECT_ID.fullmatch(text) else None


def _packed_ref(worktree: Worktree, ref: str) -> str | None:
    """``ref``'s line in ``packed-refs`` (``<object id> <ref>``), if it has one."""
    try:
        data = (worktree.common_dir / "packed-refs").read_bytes()
    except OSError:
        return None
    needle = b" " + ref.encode() + b"\n"
    found = data.find(needle)
    while found != -1:
        line_start = data.rfind(b"\n", 0, found) + 1
        sha = data[line_start:found].decode("ascii", errors="replace")
        if contract.OBJECT_ID.fullmatch(sha):
            return sha
        found = data.find(needle, found + 1)
    return None


def pin_ref(commit: str) -> str:
    return PIN_PREFIX + commit


def compare_and_swap(cwd: Path, ref: str, new: str, old: str | None, message: str) -> bool:
    """Point ``ref`` at ``new`` only if it still points at ``old`` (None: must not exist).

    Writes a reflog entry. Returns False when someone else moved the ref first.
    """
    proc = git.run(
        ["update-ref", "--create-reflog", "-m", message, ref, new, old or git.zero_oid(new)],
        cwd,
        check=False,
    )
    return proc.returncode == 0


class RefUpdater:
    """``git update-ref --stdin``: all or nothing per update (one transaction), every
    update with the reflog message :data:`SNAPSHOT_MESSAGE` (git takes it when it starts;
    the summary of each snapshot is in its commit message). The refs must have reflogs
    already where they are wanted: see :func:`compare_and_swap`.

    By default one process per update, started ahead of it so that its start-up overlaps
    with the snapshot being made. ``kept`` (the daemon): one process serves every update,
    each an explicit transaction (``start``, ``prepare``, ``commit``, each answered with
    ``<command>: ok``), so an update waits neither for a start nor for an exit; a failed
    one ends that process and the next update starts another. Safe to share between
    threads (the daemon's request threads pin what comes late through it).
    """

    def __init__(self, root: Path, *, kept: bool = False) -> None:
        self._root = root
        self._args = ["update-ref", "-m", SNAPSHOT_MESSAGE, "--stdin"]
        self._kept = PipedGit(root, self._args, kept=True) if kept else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()

    def start(self) -> None:
        with self._lock:
            if self._kept is not None:
                self._kept.start()
            elif self._proc is None:
                # Not holding the snapshot lock (kept=True): an idle update-ref does
                # nothing, and one whose snapshot was killed reads the end of its input.
                self._proc = git.popen(self._args, self._root, kept=True)

    def swap_and_pin(self, ref: str, new: str, old: str | None, pins: list[str]) -> bool:
        """:func:`compare_and_swap` ``ref`` and pin ``pins``; False when ``ref`` moved."""
        old = old or git.zero_oid(new)
        return self._apply([f"update {ref} {new} {old}", *_pin_lines(pins)])

    def pin(self, pins: list[str]) -> None:
        """:func:`pin` each of ``pins``."""
        if not self._apply(_pin_lines(pins)):
            raise GitCommandError(["update-ref", "--stdin"], 128, f"cannot pin {pins}")

    def _apply(self, lines: list[str]) -> bool:
        with self._lock:  # reentrant: start() takes it again
            if self._kept is not None:
                transaction = ["start", *lines, "prepare", "commit"]
                text = "".join(line + "\n" for line in transaction).encode()
                if self._kept.ask(text, 3) is not None:
                    return True
                self._kept.failure()  # it refused (a ref moved) and exited: reaped here
                return False
            self.start()
            proc, self._proc = self._proc, None
            assert proc is not None
            proc.communicate("".join(line + "\n" for line in lines).encode())
            return proc.returncode == 0

    def close(self) -> None:
        """End the process: with no input left git changes nothing."""
        with self._lock:
            if self._kept is not None:
                self._kept.close()
            elif self._proc is not None:
                proc, self._proc = self._proc, None
                proc.communicate()


def _pin_lines(commits: list[str]) -> list[str]:
    return [f"update {pin_ref(commit)} {commit}" for commit in commits]


def pin_seen(worktree: Worktree, commit: str) -> bool:
    """Whether ``commit``'s pin is there, as a loose ref file or in ``packed-refs``.

    Read without starting git; a pin in a reftable looks absent: pinning it again is
    harmless, and :func:`autocommit.tracking.push_on_run.claim_push` keeps it from being
    pushed twice.
    """
    return read_ref(worktree, pin_ref(commit)) == commit


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
