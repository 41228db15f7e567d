"""Sharing run code through a git remote: only ``refs/autocommit/*`` ever moves.

Pins (``refs/autocommit/pins/<sha>``, the code of runs) are shared by default; shadow
branches only on request. Pushing shadow branches writes ``refs/autocommit/heads/*`` on
the remote; fetching them writes ``refs/autocommit/remotes/<remote>/heads/*`` here, so a
teammate's chain never replaces your own. The user's branches and tags are never named
in a refspec, and options are fixed so that no configuration (``push.followTags``,
``fetch.prune``, submodule recursion) widens what moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autocommit import contract
from autocommit.contract import PIN_PREFIX, REMOTES_PREFIX, SHADOW_PREFIX
from autocommit.errors import AutocommitError, GitCommandError
from autocommit.gitio import git, refs
from autocommit.gitio.repo import Worktree

PIN_SPEC = f"{PIN_PREFIX}*:{PIN_PREFIX}*"
SHADOW_SPEC = f"{SHADOW_PREFIX}*:{SHADOW_PREFIX}*"

_PUSH_OPTIONS = ("--porcelain", "--no-follow-tags", "--no-signed", "--recurse-submodules=no")
_FETCH_OPTIONS = (
    "--no-tags", "--no-prune", "--no-write-fetch-head", "--recurse-submodules=no", "--quiet",
)  # fmt: skip


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    status: str  # new, updated, forced, up to date, rejected, deleted
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "rejected"


_PUSH_FLAGS = {" ": "updated", "+": "forced", "-": "deleted", "*": "new",
               "=": "up to date", "!": "rejected"}  # fmt: skip


def remote_for(worktree: Worktree, requested: str | None, configured: str) -> str:
    """The remote to use: ``requested`` or the ``remote`` setting; it must exist."""
    name = _checked_remote(requested or configured)
    if _is_location(name):
        return name
    known = git.out(["remote"], worktree.root).split()
    if name not in known:
        listed = ", ".join(known) if known else "none"
        raise AutocommitError(
            f"no git remote named {name!r} (remotes: {listed})",
            "pass a remote, or set it with `git config autocommit.remote <name>`",
        )
    return name


def push(
    worktree: Worktree,
    remote: str,
    *,
    shadow: bool = False,
    pins: list[str] | None = None,
    force: bool = False,
) -> list[RefUpdate]:
    """Push pins (all, or the commits in ``pins``) and optionally shadow branches.

    ``force`` lets shadow branches replace diverged ones on the remote (pins never need it:
    a pin's name is its commit).
    """
    specs: list[str] = []
    if pins is not None:
        for commit in pins:
            ref = refs.pin_ref(commit)
            if not refs.list_refs(worktree.root, ref):
                raise AutocommitError(f"{commit} is not pinned here", "pin it first")
            specs.append(f"{ref}:{ref}")
    elif refs.list_refs(worktree.root, PIN_PREFIX):
        specs.append(PIN_SPEC)
    if shadow and refs.list_refs(worktree.root, SHADOW_PREFIX):
        specs.append(("+" if force else "") + SHADOW_SPEC)
    if not specs:
        return []
    argv = ["push", *_PUSH_OPTIONS, "--end-of-options", _checked_remote(remote), *specs]
    proc = git.run(argv, worktree.root, ok_codes=(0, 1))
    updates = _parse_push(proc.stdout.decode(errors="replace"))
    if proc.returncode != 0 and not any(u.failed for u in updates):
        stderr = proc.stderr.decode(errors="replace")
        raise GitCommandError(["push", remote], proc.returncode, stderr)
    return _pins_already_there(worktree, remote, updates)


def _pins_already_there(
    worktree: Worktree, remote: str, updates: list[RefUpdate]
) -> list[RefUpdate]:
    """Pins the remote refused because another push created them meanwhile count as up
    to date: a pin is named by its commit, so the remote has exactly this code."""
    refused = [u.ref for u in updates if u.failed and u.ref.startswith(PIN_PREFIX)]
    if not refused:
        return updates
    proc = git.run(["ls-remote", "--end-of-options", remote, *refused], worktree.root,
                   check=False)  # fmt: skip
    there = set()
    for line in proc.stdout.decode(errors="replace").splitlines():
        sha, _, ref = line.partition("\t")
        if ref == refs.pin_ref(sha):
            there.add(ref)
    return [RefUpdate(u.ref, "up to date", "already there") if u.ref in there else u
            for u in updates]  # fmt: skip


def _parse_push(porcelain: str) -> list[RefUpdate]:
    updates = []
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and len(parts[0]) == 1 and parts[0] in _PUSH_FLAGS:
            target = parts[1].split(":", 1)[-1]
            detail = parts[2] if len(parts) > 2 else ""
            updates.append(RefUpdate(target, _PUSH_FLAGS[parts[0]], detail))
    return updates


def fetch(worktree: Worktree, remote: str, *, shadow: bool = False) -> list[RefUpdate]:
    """Fetch the remote's pins, and with ``shadow`` its shadow branches (as remote copies)."""
    specs = [PIN_SPEC]
    copies = f"{REMOTES_PREFIX}{_ref_safe(remote)}/heads/"
    if shadow:
        specs.append(f"+{SHADOW_PREFIX}*:{copies}*")
    before = refs.list_refs(worktree.root)
    git.run(["fetch", *_FETCH_OPTIONS, "--end-of-options", _checked_remote(remote), *specs],
            worktree.root)  # fmt: skip
    after = refs.list_refs(worktree.root)
    updates = []
    for ref, sha in sorted(after.items()):
        if ref not in before:
            updates.append(RefUpdate(ref, "new", sha[:12]))
        elif before[ref] != sha:
            updates.append(RefUpdate(ref, "updated", f"{before[ref][:12]}..{sha[:12]}"))
    return updates


def _checked_remote(remote: str) -> str:
    return git.not_an_option(
        remote, "remote", "name a git remote, a URL, or a path (./-name for a path like that)"
    )


def _is_location(remote: str) -> bool:
    """A URL or a path (git accepts those where it accepts a remote's name)."""
    return "/" in remote or ":" in remote


def _ref_safe(remote: str) -> str:
    """A ref-name component for a remote given by name, URL or path."""
    if not _is_location(remote):
        return remote
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in remote)
    return cleaned.strip("-.") or "remote"


def has_commit(root: Path, commit: str) -> bool:
    proc = git.run(["cat-file", "-e", "--end-of-options", f"{commit}^{{commit}}"], root,
                   check=False)  # fmt: skip
    return proc.returncode == 0


def fetch_commit(worktree: Worktree, commit: str, remote: str) -> None:
    """Bring a run's commit that is missing here from ``remote``, and pin it.

    Asks for the remote's pin first, then for the commit itself (git's protocol v2 serves
    any commit reachable from the remote's refs, e.g. from a pushed shadow branch).
    """
    if not contract.OBJECT_ID.fullmatch(commit):
        raise AutocommitError(f"{commit!r} is not a full commit id", "name the run's commit")
    _checked_remote(remote)
    if not _is_location(remote) and remote not in git.out(["remote"], worktree.root).split():
        raise AutocommitError(
            f"commit {commit} is not in this repository, and there is no git remote "
            f"{remote!r} to fetch it from",
            "add the team's remote (`git remote add`), or set `git config autocommit.remote`",
        )
    pin = refs.pin_ref(commit)
    for source in (pin, commit):
        proc = git.run(["fetch", *_FETCH_OPTIONS, "--end-of-options", remote, f"{source}:{pin}"],
                       worktree.root, check=False)  # fmt: skip
        if proc.returncode == 0 and has_commit(worktree.root, commit):
            return
    raise AutocommitError(
        f"commit {commit} is not in this repository, and remote {remote!r} does not have it",
        "ask whoever ran it to `autocommit push`, then try again",
    )
