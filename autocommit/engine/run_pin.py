"""A run's commit, made and pinned as its snapshot is recorded (by the daemon or in the
run's own process), with its change summary computed meanwhile, and its context commit
made and pinned in the same ref update."""

from __future__ import annotations

from typing import TYPE_CHECKING

from autocommit.engine.change_summary import KeptDiff, changes_since_head

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

    from autocommit.engine.file_commit import FileCommits
    from autocommit.engine.kept_processes import GitPipes
    from autocommit.engine.run_commit import PinnedRun
    from autocommit.engine.snapshot import CommitToPin, Snapshot
    from autocommit.gitio.repo import Worktree


class RunPin:
    """A run's commit, pinned so it outlives prune and rebase, and its change summary.

    The commit is the snapshot's tree on top of HEAD (:mod:`autocommit.engine.run_commit`), so
    the pin keeps the run's code and nothing of the work-in-progress chain before it.
    Handed to the engine (``take_snapshot(pin=...)``), it is written with the snapshot
    and pinned in the same ref update; the change summary runs in ``pool`` meanwhile.
    ``context``: commits of in-memory files to make on the run commit (a run's context),
    written and pinned along with it. ``pipes``: the daemon's kept git processes, for
    what is written after the snapshot (:meth:`ensure`); ``summaries``: its kept
    ``diff-tree``, used on ``pool``'s one thread.
    """

    def __init__(
        self,
        worktree: Worktree,
        pool: Executor,
        context: FileCommits | None = None,
        pipes: GitPipes | None = None,
        summaries: KeptDiff | None = None,
    ) -> None:
        self._worktree = worktree
        self._pool = pool
        self._pipes = pipes
        self._summaries = summaries
        self.context = context
        self.made_for: str | None = None  # the snapshot commit the fields below describe
        self.commit = ""
        self.newly_pinned = False
        self.changes: Future[str] | None = None

    def __call__(self, snap: Snapshot, text: bytes | None) -> CommitToPin:
        """``snap``'s run commit for the engine to write and pin (``text``: the snapshot's
        commit text when it is new), its context commits with it; starts the change
        summary."""
        from autocommit.engine.run_commit import run_commit_to_pin
        from autocommit.engine.snapshot import CommitToPin
        from autocommit.gitio import refs

        worktree = self._worktree
        self.changes = (self._pool.submit(changes_since_head, worktree, snap, self._summaries)
                        if snap.dirty else None)  # fmt: skip
        made = _run_commits.get(snap.commit)
        if made is not None and refs.pin_seen(worktree, made[0]):  # a pin keeps it in the store
            wanted, known = CommitToPin(made[0]), made[1]
        else:
            wanted = run_commit_to_pin(worktree, snap, text)
            known = wanted.text or (text if wanted.commit == snap.commit else None)
        self.commit = wanted.commit
        self.newly_pinned = not refs.pin_seen(worktree, wanted.commit)
        self.made_for = snap.commit
        if len(_run_commits) >= 64:
            _run_commits.clear()
        _run_commits[snap.commit] = (wanted.commit, known)
        if self.context is not None:
            try:
                also = self.context.on(worktree, wanted.commit, known)
            except Exception as exc:  # the run commit is made all the same
                self.context.error = exc
            else:
                wanted = CommitToPin(wanted.commit, wanted.text, also)
        return wanted

    def ensure(self, snap: Snapshot) -> None:
        """Make and pin ``snap``'s run commit, unless that was done as it was recorded
        (or by the daemon); its context commits too when they could be made."""
        if self.made_for != snap.commit:
            wanted = self(snap, None)
            self._write([wanted, *wanted.also])

    def ensure_context(self) -> None:
        """Make and pin the context commits on the run commit, unless they were made with
        it (call :meth:`ensure` first); raises when they cannot be made."""
        if self.context is not None and self.context.made is None:
            self._write(list(self.context.on(self._worktree, self.commit, None)))

    def _write(self, wanted: list[CommitToPin]) -> None:
        """Write the commits of ``wanted`` still to be written, and pin them together."""
        from autocommit.gitio import refs
        from autocommit.gitio.commits import write_commits

        worktree, pipes = self._worktree, self._pipes
        texts = [w.text for w in wanted if w.text is not None]
        if texts:
            if pipes is not None:
                pipes.commits.write(texts)
            else:
                write_commits(worktree, texts)
        pins = [w.commit for w in wanted if not refs.pin_seen(worktree, w.commit)]
        if pins:
            (pipes.refs if pipes is not None else refs.RefUpdater(worktree.root)).pin(pins)

    def adopt(self, snap: Snapshot, pinned: PinnedRun) -> None:
        """Take what the daemon made and pinned for ``snap``."""
        from concurrent.futures import Future

        self.made_for, self.commit = snap.commit, pinned.commit
        self.newly_pinned = pinned.newly_pinned
        self.changes = None
        if pinned.changes is not None:
            self.changes = Future()
            self.changes.set_result(pinned.changes)
        if self.context is not None and pinned.context is not None:
            self.context.made = {key: pinned.context for key in self.context.files}

    def pinned(self, snap: Snapshot) -> PinnedRun:
        """What was made and pinned for ``snap`` (made and pinned now if need be)."""
        from autocommit.engine.run_commit import PinnedRun

        self.ensure(snap)
        changes = self.changes.result() if self.changes else None
        return PinnedRun(self.commit, self.newly_pinned, changes)


# snapshot commit → its run commit and that commit's text when known (both never change)
_run_commits: dict[str, tuple[str, bytes | None]] = {}
