"""A run's commit, made and pinned as its snapshot is recorded (by the daemon or in the
run's own process), with its change summary computed meanwhile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autocommit.engine.change_summary import changes_since_head

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

    from autocommit.engine.run_commit import PinnedRun
    from autocommit.engine.snapshot import CommitToPin, Snapshot
    from autocommit.gitio.repo import Worktree


class RunPin:
    """A run's commit, pinned so it outlives prune and rebase, and its change summary.

    The commit is the snapshot's tree on top of HEAD (:mod:`autocommit.engine.run_commit`), so
    the pin keeps the run's code and nothing of the work-in-progress chain before it.
    Handed to the engine (``take_snapshot(pin=...)``), it is written with the snapshot
    and pinned in the same ref update; the change summary runs in ``pool`` meanwhile.
    """

    def __init__(self, worktree: Worktree, pool: Executor) -> None:
        self._worktree = worktree
        self._pool = pool
        self.made_for: str | None = None  # the snapshot commit the fields below describe
        self.commit = ""
        self.newly_pinned = False
        self.changes: Future[str] | None = None

    def __call__(self, snap: Snapshot, text: bytes | None) -> CommitToPin:
        """``snap``'s run commit for the engine to write and pin (``text``: the snapshot's
        commit text when it is new); starts the change summary."""
        from autocommit.engine.run_commit import run_commit_to_pin
        from autocommit.engine.snapshot import CommitToPin
        from autocommit.gitio import refs

        worktree = self._worktree
        self.changes = self._pool.submit(changes_since_head, worktree, snap) if snap.dirty else None
        made = _run_commits.get(snap.commit)
        if made is not None and refs.pin_seen(worktree, made):  # a pin keeps it in the store
            wanted = CommitToPin(made)
        else:
            wanted = run_commit_to_pin(worktree, snap, text)
        self.commit = wanted.commit
        self.newly_pinned = not refs.pin_seen(worktree, wanted.commit)
        self.made_for = snap.commit
        if len(_run_commits) >= 64:
            _run_commits.clear()
        _run_commits[snap.commit] = wanted.commit
        return wanted

    def ensure(self, snap: Snapshot) -> None:
        """Make and pin ``snap``'s run commit, unless that was done as it was recorded."""
        from autocommit.gitio import refs
        from autocommit.gitio.commits import write_commits

        if self.made_for != snap.commit:
            wanted = self(snap, None)
            if wanted.text is not None:
                write_commits(self._worktree.root, self._worktree.state_dir, [wanted.text])
            if self.newly_pinned:
                refs.pin(self._worktree.root, self.commit, "autocommit: pinned for an MLflow run")

    def adopt(self, snap: Snapshot, pinned: PinnedRun) -> None:
        """Take what the daemon made and pinned for ``snap``."""
        from concurrent.futures import Future

        self.made_for, self.commit = snap.commit, pinned.commit
        self.newly_pinned = pinned.newly_pinned
        self.changes = None
        if pinned.changes is not None:
            self.changes = Future()
            self.changes.set_result(pinned.changes)

    def pinned(self, snap: Snapshot) -> PinnedRun:
        """What was made and pinned for ``snap`` (made and pinned now if need be)."""
        from autocommit.engine.run_commit import PinnedRun

        self.ensure(snap)
        changes = self.changes.result() if self.changes else None
        return PinnedRun(self.commit, self.newly_pinned, changes)


_run_commits: dict[str, str] = {}  # snapshot commit → its run commit (both never change)
