"""A run's context: what it executed beyond its repository's working tree.

The ``autocommit.context`` tag names a pinned commit whose only parent is the run commit
and whose tree holds ``environment.txt`` (:mod:`.environment`), ``session.py``
(:mod:`.session`, IPython or the REPL only), ``data.json`` (:mod:`.data_files`) and
``dependencies.json`` (:mod:`.dependencies`), each of which a ``context_*`` setting turns
off. The commit is made from those files and the run commit alone, so the same context
on the same code is the same commit (and nothing is written for it again). A failure
never fails the run: the run keeps its code tags and gets ``autocommit.context.error``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from autocommit.contract import (
    CONTEXT_DATA,
    CONTEXT_DEPENDENCIES,
    CONTEXT_ENVIRONMENT,
    CONTEXT_ERROR_TAG,
    CONTEXT_SESSION,
    CONTEXT_TAG,
    MAX_TAG_VALUE,
)
from autocommit.notices import warn_once

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree
    from autocommit.settings.config import Settings

MESSAGE = "autocommit: what the run executed beyond its working tree\n"


def context_files(worktree: Worktree, settings: Settings, run_commit: str) -> dict[str, bytes]:
    """The files of the context of a run starting now on ``run_commit``."""
    files: dict[str, bytes] = {}
    if settings.context_environment:
        from autocommit.tracking.environment import environment_text

        files[CONTEXT_ENVIRONMENT] = environment_text().encode(errors="surrogateescape")
    if settings.context_session:
        from autocommit.tracking.session import session_text

        session = session_text()
        if session is not None:
            files[CONTEXT_SESSION] = session.encode(errors="surrogateescape")
    if settings.context_data:
        from autocommit.tracking.data_files import data_json

        files[CONTEXT_DATA] = data_json(worktree, settings, run_commit)
    if settings.context_dependencies:
        from autocommit.tracking.dependencies import dependencies_json

        files[CONTEXT_DEPENDENCIES] = dependencies_json(worktree.root)
    return files


def context_tags(worktree: Worktree, settings: Settings, run_commit: str) -> dict[str, str]:
    """``{autocommit.context: <pinned commit>}`` for a run on ``run_commit``; ``{}`` when
    every part is turned off. Never raises."""
    try:
        files = context_files(worktree, settings, run_commit)
        if not files:
            return {}
        from autocommit.engine.file_commit import commit_files

        commit = commit_files(worktree, run_commit, files, MESSAGE)
    except Exception as exc:
        what = " ".join(f"{type(exc).__name__}: {exc}".split())[: MAX_TAG_VALUE - 100]
        warn_once(f"no context for this run (its code is recorded): {what}")
        return {CONTEXT_ERROR_TAG: what}
    return {CONTEXT_TAG: commit}
