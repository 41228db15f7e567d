"""A run's context: what it executed beyond its repository's working tree.

The ``autocommit.context`` tag names a pinned commit whose only parent is the run commit
and whose tree holds ``environment.txt`` (:mod:`.environment`), ``session.py``
(:mod:`.session`, IPython or the REPL only), ``data.json`` (:mod:`.data_files`) and
``dependencies.json`` (:mod:`.dependencies`), each of which a ``context_*`` setting turns
off. The commit is made from those files and the run commit alone, so the same context
on the same code is the same commit (and nothing is written for it again). The files are
gathered before the snapshot and handed over with it (:func:`commits`), so that the
commit is written and pinned together with the run commit: by the daemon in the same
sync request, or by the in-process snapshot. A failure never fails the run: the run
keeps its code tags and gets ``autocommit.context.error``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autocommit.contract import (
    CONTEXT_DATA,
    CONTEXT_DEPENDENCIES,
    CONTEXT_ENVIRONMENT,
    CONTEXT_ERROR_TAG,
    CONTEXT_MESSAGE,
    CONTEXT_SESSION,
    CONTEXT_TAG,
    MAX_TAG_VALUE,
)
from autocommit.notices import warn_once

if TYPE_CHECKING:
    from autocommit.daemon.client import NamesLater
    from autocommit.engine.file_commit import FileCommits, TreeStore
    from autocommit.engine.run_pin import RunPin
    from autocommit.gitio.repo import Worktree
    from autocommit.settings.config import Settings

_KEY = "run"  # the one context of a run's own process


def context_files(worktree: Worktree, settings: Settings, like: str,
                  names: NamesLater | None = None) -> dict[str, bytes]:  # fmt: skip
    """The files of the context of a run starting now (``like``: an object id of the
    repository, for its hash algorithm; ``names``: where names came and went, as the
    daemon told the run, for ``data.json``'s walk: what waits for that answer, called
    last, after the other parts, while it is on its way; None: told nothing)."""
    files: dict[str, bytes] = {}
    if settings.context_environment:
        from autocommit.tracking.environment import environment_text

        files[CONTEXT_ENVIRONMENT] = environment_text().encode(errors="surrogateescape")
    if settings.context_session:
        from autocommit.tracking.session import session_text

        session = session_text()
        if session is not None:
            files[CONTEXT_SESSION] = session.encode(errors="surrogateescape")
    if settings.context_dependencies:
        from autocommit.tracking.dependencies import dependencies_json

        files[CONTEXT_DEPENDENCIES] = dependencies_json(worktree.root)
    if settings.context_data:
        from autocommit.tracking.data_files import data_json

        told = names() if names is not None else None
        files[CONTEXT_DATA] = data_json(worktree, settings, like, told)
    return files


Gathered = dict[str, bytes] | Exception  # a run's context files, or why there are none


def gather(worktree: Worktree, settings: Settings, like: str,
           names: NamesLater | None = None) -> Gathered:  # fmt: skip
    """:func:`context_files`, or the exception that kept them from being read."""
    try:
        return context_files(worktree, settings, like, names)
    except Exception as exc:
        return exc


def commits(gathered: Gathered | None, store: TreeStore) -> FileCommits | None:
    """What the run commit's maker makes and pins with it for ``gathered``."""
    from autocommit.engine.file_commit import FileCommits

    if not isinstance(gathered, dict) or not gathered:
        return None
    return FileCommits({_KEY: gathered}, CONTEXT_MESSAGE, store)


def files_of(context: FileCommits | None) -> dict[str, bytes] | None:
    """The files of the run's context, for the daemon to commit with the run commit."""
    return None if context is None else context.files.get(_KEY)


def context_tags(gathered: Gathered | None, run: RunPin) -> dict[str, str]:
    """``{autocommit.context: <pinned commit>}`` for ``run`` (whose commit is made), made
    and pinned now unless it was with the run commit; ``{}`` when every part is turned
    off. Never raises."""
    if isinstance(gathered, Exception):
        return _error_tags(gathered)
    if not gathered or run.context is None:
        return {}
    try:
        run.ensure_context()
    except Exception as exc:
        return _error_tags(exc)
    made = run.context.made or {}
    return {CONTEXT_TAG: made[_KEY]} if _KEY in made else {}


def _error_tags(exc: Exception) -> dict[str, str]:
    what = " ".join(f"{type(exc).__name__}: {exc}".split())[: MAX_TAG_VALUE - 100]
    warn_once(f"no context for this run (its code is recorded): {what}")
    return {CONTEXT_ERROR_TAG: what}
