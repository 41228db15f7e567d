"""The MLflow tags of a run: the exact snapshot of the code it ran.

The MLflow plugin (``autocommit.mlflow_plugin``) calls this for every run MLflow creates
through its context providers. Runs created without them (resumed runs,
``MlflowClient.create_run``, ``mlflow run`` projects) can get the same tags from
:func:`mlflow_tags` (re-exported as ``autocommit.mlflow_tags``).

Which repository: the one holding the entry script (``sys.argv[0]``) unless that script
belongs to the Python installation (``pytest``, ``ipykernel_launcher``, …), else the
current directory (notebooks, the REPL). Only enabled repositories get snapshots.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autocommit.notices import warn_once

if TYPE_CHECKING:  # the heavy modules are imported only when a run is tagged
    from concurrent.futures import Executor, Future

    from autocommit.config import Settings
    from autocommit.repo import Worktree
    from autocommit.run_commit import PinnedRun
    from autocommit.snapshot import CommitToPin, Snapshot

COMMIT = "autocommit.commit"
HEAD = "autocommit.head"
DIRTY = "autocommit.dirty"
BRANCH = "autocommit.branch"
CHANGES = "autocommit.changes"
SKIPPED = "autocommit.skipped"
ERROR = "autocommit.error"
MLFLOW_GIT_COMMIT = "mlflow.source.git.commit"

# MLflow 3 accepts 8000 characters per tag value; older servers 5000.
MAX_TAG_VALUE = 5000
CLEAN_CHANGES = "none"


@dataclass(frozen=True)
class Target:
    """An enabled repository a run is about to start in."""

    root: Path
    settings: Settings


def entry_directory() -> Path:
    """Where the run's code lives: the entry script's directory, else the current one."""
    script = sys.argv[0] if sys.argv else ""
    if script and os.path.isfile(script) and not _belongs_to_python(script):
        return Path(script).absolute().parent
    return Path.cwd()


def _belongs_to_python(script: str) -> bool:
    """True for launchers of the Python installation (pytest, ipykernel, mlflow, …)."""
    path = os.path.realpath(script)
    homes = {sys.prefix, sys.exec_prefix, sys.base_prefix}
    homes.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return any(path.startswith(os.path.realpath(home) + os.sep) for home in homes if home)


def repository_root(start: Path) -> Path | None:
    """The top of the working tree holding ``start``, found without running git."""
    for directory in (start, *start.parents):
        if os.path.lexists(directory / ".git"):
            return directory
    return None


def worktree_at(root: Path) -> Worktree:
    """The working tree whose top is ``root``, read from its ``.git`` without running git.

    Saves a ``git rev-parse`` on every run; anything unusual goes to ``find_worktree``.
    """
    from autocommit.repo import Worktree, find_worktree, refuse_unsupported

    dotgit = root / ".git"
    if dotgit.is_dir() and not dotgit.is_symlink():
        worktree = Worktree(root=root, git_dir=dotgit, common_dir=dotgit)
        refuse_unsupported(worktree)
        return worktree
    try:
        pointer = dotgit.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return find_worktree(root)
    if not pointer.startswith("gitdir: "):
        return find_worktree(root)
    git_dir = (root / pointer.removeprefix("gitdir: ")).resolve()  # a linked worktree, a submodule
    common_dir = git_dir
    with contextlib.suppress(OSError):
        common_dir = (
            git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()
        ).resolve()
    worktree = Worktree(root=root, git_dir=git_dir, common_dir=common_dir)
    refuse_unsupported(worktree)
    return worktree


def _disabled_by_environment() -> bool:
    value = os.environ.get("AUTOCOMMIT_ENABLED", "").strip().lower()
    return value in {"0", "false", "no", "off"}


def find_target(path: Path | str | None = None) -> Target | None:
    """The enabled repository for a run started now from ``path`` (default: see above).

    None when autocommit has nothing to do (no repository, not enabled), at the cost of a
    few ``stat`` calls, and a ``git config`` only when a settings file changed. Settings
    that cannot be read (a half-edited ``pyproject.toml``) give way to the ones last read,
    with a warning; with none to fall back to, this raises if autocommit is enabled.
    """
    if _disabled_by_environment():
        return None
    try:
        start = Path(path).absolute() if path is not None else entry_directory()
    except FileNotFoundError:
        return None  # the current directory was deleted
    root = repository_root(start)
    if root is None:
        return None
    from autocommit import config
    from autocommit.errors import AutocommitError

    try:
        settings, broken = config.load_or_last_good(worktree_at(root))
    except AutocommitError:
        if not _enabled_in_git_config(root):
            return None  # someone else's broken configuration: not ours to report
        raise
    if not settings.enabled:
        return None
    if broken is not None:  # a settings file in the middle of an edit, say
        warn_once(f"{broken.what}; this run uses the settings last read ({broken.todo})")
    return Target(root, settings)


def _enabled_in_git_config(root: Path) -> bool:
    from autocommit import git

    proc = git.run(["config", "--bool", "autocommit.enabled"], root, check=False)
    return proc.stdout.strip() == b"true"


def snapshot_for_run(worktree: Worktree, settings: Settings, run: RunPin | None = None) -> Snapshot:
    """The snapshot of the working tree as it is now: never one from an earlier call.

    The daemon's sync barrier when a daemon runs, else an in-process full reconcile
    (with ``autostart``, the daemon is started in the background for the next runs).
    Either way an unchanged tree gives the same commit again without writing a new one.
    ``run`` gets its commit made and pinned along the way: by the daemon, or by the
    engine as it records the snapshot.
    """
    from autocommit import client
    from autocommit.snapshot import take_snapshot

    try:
        synced = client.sync_for_run(worktree)
    except Exception as exc:  # a daemon of another version, a garbled answer
        warn_once(f"the daemon's answer was not usable ({exc}); snapshotting in this process")
        synced = None
    if synced is not None:
        snap, pinned = synced
        if run is not None and pinned is not None:
            run.adopt(snap, pinned)
        return snap
    if settings.autostart:
        try:
            client.start(worktree, wait=False)
        except Exception as exc:
            warn_once(f"autostart: the daemon did not start: {exc}")
    snap = take_snapshot(worktree, settings=settings, pin=run)
    _pack_in_background(worktree)
    return snap


def _pack_in_background(worktree: Worktree) -> None:
    """Without a daemon, the run whose snapshot passes the bound of loose objects starts
    their packing (:mod:`autocommit.maintenance`); a run never fails for it."""
    from autocommit import maintenance

    try:
        maintenance.start_in_background(worktree)
    except Exception as exc:
        warn_once(f"packing loose objects did not start: {exc}")


class RunPin:
    """A run's commit, pinned so it outlives prune and rebase, and its change summary.

    The commit is the snapshot's tree on top of HEAD (:mod:`autocommit.run_commit`), so
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
        from autocommit import refs
        from autocommit.run_commit import run_commit_to_pin
        from autocommit.snapshot import CommitToPin

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
        from autocommit import refs
        from autocommit.commit_object import write_commits

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
        from autocommit.run_commit import PinnedRun

        self.ensure(snap)
        changes = self.changes.result() if self.changes else None
        return PinnedRun(self.commit, self.newly_pinned, changes)


_run_commits: dict[str, str] = {}  # snapshot commit → its run commit (both never change)


def tags_for(worktree: Worktree, settings: Settings, snap: Snapshot, run: RunPin) -> dict[str, str]:
    """The tags describing ``snap``, whose run commit ``run`` makes and pins."""
    run.ensure(snap)
    tags = {
        COMMIT: run.commit,
        DIRTY: "true" if snap.dirty else "false",
        BRANCH: snap.shadow_ref,
        CHANGES: run.changes.result() if run.changes else CLEAN_CHANGES,
    }
    if snap.head is not None:
        tags[HEAD] = snap.head
    if snap.skipped:
        listed = "\n".join(f"{s.path} ({s.reason})" for s in snap.skipped)
        tags[SKIPPED] = truncate(listed)
    if settings.override_mlflow_commit:
        tags[MLFLOW_GIT_COMMIT] = run.commit
    if settings.push_on_run and run.newly_pinned:
        from autocommit import share

        share.push_in_background(worktree, run.commit, settings.remote)  # detached, once
    return tags


def changes_since_head(worktree: Worktree, snap: Snapshot) -> str:
    """``git diff --stat`` of HEAD → snapshot, cut to fit a tag (the total line kept)."""
    key = (snap.head, snap.commit)  # the same two commits always give the same text
    if key not in _changes_memo:
        if len(_changes_memo) >= 64:
            _changes_memo.clear()
        _changes_memo[key] = _diffstat(worktree, snap)
    return _changes_memo[key]


_changes_memo: dict[tuple[str | None, str], str] = {}


def _diffstat(worktree: Worktree, snap: Snapshot) -> str:
    """One line, total first: ``2 files changed, 3 insertions(+), 1 deletion(-): train.py
    +2 -1, notes.md (new) +1``. MLflow's run page shows a tag on one line, cut to its
    start, so the total comes first and the files after it, as many as fit in a tag."""
    from autocommit import git
    from autocommit.objects import empty_tree

    base = snap.head or empty_tree(snap.commit)
    out = git.run(  # the tree: the commit may not be written yet
        ["diff", "--no-ext-diff", "--no-textconv", "--no-renames", "--numstat", "--summary",
         "--shortstat", "-z", base, snap.tree],
        worktree.root,
    ).stdout.decode(errors="surrogateescape")  # fmt: skip
    *records, tail = out.split("\0")
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    if not records or not lines:
        return "mode or metadata changes only"
    marks = {}
    for line in lines[1:]:  # `create mode 100644 <path>`, `delete mode 100644 <path>`
        words = line.split(" ", 3)
        if len(words) == 4 and words[:2] in (["create", "mode"], ["delete", "mode"]):
            marks[words[3]] = "new" if words[0] == "create" else "gone"
    files = [_file_change(record, marks) for record in records if record.count("\t") >= 2]
    return one_line_changes(lines[0], files)


def _file_change(record: str, marks: dict[str, str]) -> str:
    """``train.py +2 -1`` from a ``--numstat`` record ``2<TAB>1<TAB>train.py``."""
    added, deleted, path = record.split("\t", 2)
    words = [path] + ([f"({marks[path]})"] if path in marks else [])
    if added == "-":
        words.append("binary")
    else:
        words += [f"+{added}"] if added != "0" else []
        words += [f"-{deleted}"] if deleted != "0" else []
    if len(words) == 1:
        words.append("mode")
    return " ".join(words)


def one_line_changes(total: str, files: list[str], limit: int = MAX_TAG_VALUE) -> str:
    """``<total>: <file>, <file>, …``, the files that fit within ``limit`` characters."""
    text = f"{total}: {', '.join(files)}"
    if len(text) <= limit:
        return text
    shown: list[str] = []
    for count, file in enumerate(files):
        more = f", … and {len(files) - count} more"
        if len(total) + 2 + len(", ".join([*shown, file])) + len(more) > limit:
            return f"{total}: {', '.join(shown)}{more}"
        shown.append(file)
    return text


def changes_total(changes: str) -> str:
    """The total of an ``autocommit.changes`` value: ``3 files changed, 10 insertions(+)``
    (before the files in the one-line form; the last line of a multi-line diffstat, as
    runs tagged before the one-line form have it)."""
    text = changes.strip()
    return text.splitlines()[-1] if "\n" in text else text.split(": ", 1)[0]


def truncate(text: str, *, limit: int = MAX_TAG_VALUE) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 2].rsplit("\n", 1)[0] + "\n…"


def error_tags(exc: BaseException) -> dict[str, str]:
    """The tag recording why a run has no snapshot, and one warning about it."""
    from autocommit.errors import AutocommitError

    what = exc.one_line() if isinstance(exc, AutocommitError) else f"{type(exc).__name__}: {exc}"
    what = " ".join(what.split())
    warn_once(f"no snapshot for this run: {what}")
    return {ERROR: truncate(what)}


def tags_for_target(target: Target) -> dict[str, str]:
    """Snapshot, pin and describe ``target``'s working tree; never raises."""
    from concurrent.futures import ThreadPoolExecutor

    try:
        worktree = worktree_at(target.root)
        with ThreadPoolExecutor(max_workers=1) as pool:  # the change summary beside the rest
            run = RunPin(worktree, pool)
            snap = snapshot_for_run(worktree, target.settings, run)
            return tags_for(worktree, target.settings, snap, run)
    except Exception as exc:
        return error_tags(exc)


def mlflow_tags(path: Path | str | None = None) -> dict[str, str]:
    """The autocommit tags for a run starting now; ``{}`` where autocommit is not enabled.

    For runs MLflow creates without context providers::

        client.create_run(experiment_id, tags=autocommit.mlflow_tags())
        mlflow.start_run(run_id=resumed_id, tags=autocommit.mlflow_tags())

    ``path`` picks the repository (default: the entry script's, else the current
    directory). Never raises: a failure gives ``{"autocommit.error": why}``.
    """
    try:
        target = find_target(path)
    except Exception as exc:
        return error_tags(exc)
    return {} if target is None else tags_for_target(target)
