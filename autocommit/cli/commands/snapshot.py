"""``autocommit snapshot``: snapshot the working tree now and print the commit."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json
from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.engine.snapshot import CommitToPin, Pinner, Snapshot
    from autocommit.gitio.repo import Worktree


HELP = "snapshot the working tree now onto its shadow branch and print the commit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_json(parser, "the snapshot as JSON")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="keep this code alive like a run's: print and pin its run commit (the snapshot's "
        "tree on HEAD alone, refs/autocommit/pins/<sha>), which prune never removes; "
        "with --json it is `commit`",
    )


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    worktree = find_worktree()
    return snapshot(worktree, pin=args.pin, as_json=args.json)


def snapshot(worktree: Worktree, *, pin: bool, as_json: bool) -> int:
    """Print the snapshot of the working tree as it is now: the daemon's sync barrier
    when a daemon runs (it watches the files: no scan), else one taken here."""
    from autocommit.state_layout import DAEMON_SOCKET

    # Its socket's name, not the daemon's client: a scan here imports no socket module.
    running = (worktree.state_dir / DAEMON_SOCKET).exists()
    found = _from_daemon(worktree, pin) if running else None
    snap, commit = found or _take(worktree, pin)
    return _print(snap, commit, pin=pin, as_json=as_json)


def _from_daemon(worktree: Worktree, pin: bool) -> tuple[Snapshot, str] | None:
    """The daemon's snapshot and the commit to print; None when no daemon answers."""
    from autocommit.daemon import client

    if pin:  # the daemon makes and pins the run commit, as for a run
        synced = client.sync_for_run(worktree)
        return None if synced is None or synced[1] is None else (synced[0], synced[1].commit)
    snap = client.sync(worktree)
    return None if snap is None else (snap, snap.commit)


def _take(worktree: Worktree, pin: bool) -> tuple[Snapshot, str]:
    """A snapshot taken in this process, and the commit to print."""
    from autocommit.engine.diff_files import started_ahead

    with started_ahead(worktree):  # git stats the files while the engine is imported
        from autocommit.engine import maintenance
        from autocommit.engine.snapshot import take_snapshot

        pinned: list[str] = []
        snap = take_snapshot(worktree, pin=_run_commit_pinner(worktree, pinned) if pin else None)
    maintenance.start_in_background(worktree)  # past the bound of loose objects
    return snap, pinned[-1] if pin else snap.commit


def _print(snap: Snapshot, commit: str, *, pin: bool, as_json: bool) -> int:
    if as_json:
        print_json(record(snap, commit, pinned=pin))
        return 0
    for skipped in snap.skipped:
        note(f"left out {skipped.path} ({skipped.reason})")
    note(f"{snap.summary} → {snap.shadow_ref}" if snap.dirty else snap.summary)
    print(commit)
    return 0


def _run_commit_pinner(worktree: Worktree, pinned: list[str]) -> Pinner:
    """Pins ``snap``'s run commit, as a run's (pinning the chain snapshot would keep every
    earlier snapshot alive too), in the ref update that records the snapshot; the commit
    is appended to ``pinned``."""
    from autocommit.engine.run_commit import run_commit_to_pin

    def pin(snap: Snapshot, text: bytes | None) -> CommitToPin:
        wanted = run_commit_to_pin(worktree, snap, text)
        pinned.append(wanted.commit)
        return wanted

    return pin


def record(snap: Snapshot, commit: str, *, pinned: bool) -> dict[str, Any]:
    """``snapshot --json``: every field is documented in the README (Snapshots)."""
    data = snap.to_dict()
    del data["head_summary"]  # the run commit's subject, for the engine's callers
    del data["head_tree"]  # for the run's change summary
    snapshot_commit = data.pop("commit")
    return {"commit": commit, "pinned": commit if pinned else None,
            "snapshot": snapshot_commit, **data}  # fmt: skip
