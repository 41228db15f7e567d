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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autocommit.contract import (
    BRANCH_TAG,
    CHANGES_TAG,
    CLEAN_CHANGES,
    COMMIT_TAG,
    DIRTY_TAG,
    ERROR_TAG,
    HEAD_TAG,
    MAX_TAG_VALUE,
    MLFLOW_GIT_COMMIT_TAG,
    SKIPPED_TAG,
)
from autocommit.notices import warn_once

if TYPE_CHECKING:  # the heavy modules are imported only when a run is tagged
    from autocommit.daemon.client import NamesLater
    from autocommit.engine.run_pin import RunPin
    from autocommit.engine.snapshot import Snapshot
    from autocommit.gitio.repo import Worktree
    from autocommit.settings.config import Settings


# MLflow 3 accepts 8000 characters per tag value; older servers 5000.


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
    from autocommit.gitio.repo import Worktree, find_worktree, refuse_unsupported

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
        if path is None:
            _warn_if_started_in_an_enabled_repository(root)
        return None
    from autocommit.errors import AutocommitError
    from autocommit.settings import config

    try:
        settings, broken = config.load_or_last_good(worktree_at(root))
    except AutocommitError:
        if not _enabled_in_git_config(root):
            return None  # someone else's broken configuration: not ours to report
        raise
    if not settings.enabled:
        if path is None:
            _warn_if_started_in_an_enabled_repository(root)
        return None
    if broken is not None:  # a settings file in the middle of an edit, say
        warn_once(f"{broken.what}; this run uses the settings last read ({broken.todo})")
    return Target(root, settings)


def _warn_if_started_in_an_enabled_repository(script_root: Path | None) -> None:
    """A run whose entry script lives outside the enabled repository it was started from
    gets no tags: say so, once. A repository autocommit never worked in (no state
    directory) costs a ``stat``; the settings are read only where it did."""
    try:
        here = repository_root(Path.cwd())
    except FileNotFoundError:
        return
    if here is None or here == script_root:
        return
    dotgit = here / ".git"
    if dotgit.is_dir() and not (dotgit / "autocommit").is_dir():
        return
    if find_target(here) is None:
        return
    warn_once(
        f"the entry script {sys.argv[0]} is outside {here}, where autocommit is enabled: "
        "its runs get no autocommit tags (they come from the script's own repository); "
        "run a script that lives in the repository to have them tagged"
    )


def _enabled_in_git_config(root: Path) -> bool:
    from autocommit.gitio import git

    proc = git.run(["config", "--bool", "autocommit.enabled"], root, check=False)
    return proc.stdout.strip() == b"true"


def snapshot_for_run(
    worktree: Worktree,
    settings: Settings,
    run: RunPin | None = None,
    gather: Callable[[NamesLater | None], None] | None = None,
) -> Snapshot:
    """The snapshot of the working tree as it is now: never one from an earlier call.

    The daemon's sync barrier when a daemon runs, else an in-process full reconcile
    (with ``autostart``, the daemon is started in the background for the next runs).
    Either way an unchanged tree gives the same commit again without writing a new one.
    ``run`` gets its commit made and pinned along the way: by the daemon, or by the
    engine as it records the snapshot. ``gather`` sets ``run.context`` (the run's context
    files): called once the daemon has been asked, so that both work at once, with what
    tells where names came and went since this process last asked (for ``data.json``'s
    walk); else before the in-process snapshot (told nothing).
    """
    from autocommit.daemon import client
    from autocommit.engine.snapshot import take_snapshot
    from autocommit.tracking.context import files_of

    gathered = False

    def context_files(names: NamesLater | None = None) -> dict[str, bytes] | None:
        nonlocal gathered
        if gather is not None and not gathered:
            gather(names)
        gathered = True
        return files_of(run.context if run else None)

    asks_context = run is not None and (gather is not None or run.context is not None)
    since = None
    if asks_context and settings.context_data:
        from autocommit.tracking.data_files import names_since

        since = names_since(worktree, settings)
    try:
        synced = client.sync_for_run(worktree, context=context_files if asks_context else None,
                                     names_since=since)  # fmt: skip
    except Exception as exc:  # a daemon of another version, a garbled answer
        warn_once(f"the daemon's answer was not usable ({exc}); snapshotting in this process")
        synced = None
    if synced is not None:
        snap, pinned = synced
        if run is not None and pinned is not None:
            run.adopt(snap, pinned)
        return snap
    if gather is not None and not gathered:
        gather(None)
    if settings.autostart:
        try:
            client.start(worktree, wait=False)
        except Exception as exc:
            warn_once(f"autostart: the daemon did not start: {exc}")
    if run is not None and run.context is not None:
        run.context.store.start()  # its start-up overlaps with the scan
    snap = take_snapshot(worktree, settings=settings, pin=run)
    _pack_in_background(worktree)
    return snap


def _pack_in_background(worktree: Worktree) -> None:
    """Without a daemon, the run whose snapshot passes the bound of loose objects starts
    their packing (:mod:`autocommit.engine.maintenance`); a run never fails for it."""
    from autocommit.engine import maintenance

    try:
        maintenance.start_in_background(worktree)
    except Exception as exc:
        warn_once(f"packing loose objects did not start: {exc}")


def tags_for(worktree: Worktree, settings: Settings, snap: Snapshot, run: RunPin) -> dict[str, str]:
    """The tags describing ``snap``, whose run commit ``run`` makes and pins."""
    run.ensure(snap)
    tags = {
        COMMIT_TAG: run.commit,
        DIRTY_TAG: "true" if snap.dirty else "false",
        BRANCH_TAG: snap.shadow_ref,
        CHANGES_TAG: run.changes.result() if run.changes else CLEAN_CHANGES,
    }
    if snap.head is not None:
        tags[HEAD_TAG] = snap.head
    if snap.skipped:
        listed = "\n".join(f"{s.path} ({s.reason})" for s in snap.skipped)
        tags[SKIPPED_TAG] = truncate(listed)
    if settings.override_mlflow_commit:
        tags[MLFLOW_GIT_COMMIT_TAG] = run.commit
    if settings.push_on_run and run.newly_pinned:
        from autocommit.tracking import push_on_run

        push_on_run.push_in_background(worktree, run.commit, settings.remote)  # detached, once
    return tags


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
    return {ERROR_TAG: truncate(what)}


def tags_for_target(target: Target) -> dict[str, str]:
    """Snapshot, pin and describe ``target``'s working tree, and record the run's context
    (:mod:`autocommit.tracking.context`) with it; never raises."""
    from concurrent.futures import ThreadPoolExecutor

    from autocommit.engine.file_commit import TreeStore
    from autocommit.engine.run_pin import RunPin
    from autocommit.tracking import context

    settings = target.settings
    try:
        worktree = worktree_at(target.root)
        like = _an_object_id(worktree)  # None before the first commit: gathered after
        gathered: context.Gathered | None = None
        with (
            contextlib.closing(TreeStore(worktree)) as store,
            ThreadPoolExecutor(
                max_workers=1  # the change summary beside the rest
            ) as pool,
        ):
            run = RunPin(worktree, pool)

            def gather(names: NamesLater | None) -> None:  # beside the daemon, when one runs
                nonlocal gathered
                if like is not None:
                    gathered = context.gather(worktree, settings, like, names)
                    run.context = context.commits(gathered, store)

            snap = snapshot_for_run(worktree, settings, run, gather)
            tags = tags_for(worktree, settings, snap, run)
            if gathered is None:
                gathered = context.gather(worktree, settings, run.commit)
                run.context = context.commits(gathered, store)
            return tags | context.context_tags(gathered, run)
    except Exception as exc:
        return error_tags(exc)


def _an_object_id(worktree: Worktree) -> str | None:
    """HEAD's commit, read without starting git (None when that needs git, or before
    the first commit): it tells the repository's hash algorithm."""
    from autocommit.contract import OBJECT_ID
    from autocommit.gitio import refs

    try:
        text = (worktree.git_dir / "HEAD").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if OBJECT_ID.fullmatch(text):
        return text  # detached
    return refs.read_ref(worktree, text.removeprefix("ref: ")) if text.startswith("ref: ") else None


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
