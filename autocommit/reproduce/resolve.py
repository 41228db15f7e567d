"""From what a user types, ``<run-id|rev>``, to the commit holding that code.

An MLflow run id (32 hex digits, optionally as ``runs:/<id>``) names the run's
``autocommit.commit`` tag; anything else is a git revision (a sha, ``autocommit/heads/main``,
``HEAD~2``…). A run's commit that is missing here is fetched from the configured remote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autocommit import contract
from autocommit.contract import COMMIT_TAG, ERROR_TAG, MLFLOW_GIT_COMMIT_TAG
from autocommit.errors import AutocommitError
from autocommit.gitio import git
from autocommit.gitio.repo import Worktree
from autocommit.reproduce import share
from autocommit.settings import config

if TYPE_CHECKING:
    from autocommit.tracking import store as tracking

RUN_ID = re.compile(r"[0-9a-f]{32}")
RUN_ID_PREFIX = re.compile(r"[0-9a-f]{4,32}")  # as git, at least 4 digits


@dataclass(frozen=True)
class Resolved:
    commit: str
    spec: str  # what the user typed
    run_id: str | None = None
    run_tags: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``run <id> (<sha12>)`` for a run, ``<sha12>`` for a revision."""
        short = self.commit[:12]
        return f"run {self.run_id} ({short})" if self.run_id else short


def rev_commit(worktree: Worktree, spec: str) -> str | None:
    """The commit a git revision names, or None."""
    proc = git.run(["rev-parse", "--verify", "-q", "--end-of-options", f"{spec}^{{commit}}"],
                   worktree.root, check=False)  # fmt: skip
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def resolve(
    worktree: Worktree,
    spec: str,
    *,
    tracking_uri: str | None = None,
    remote: str | None = None,
) -> Resolved:
    """The commit for ``spec``; fetches a run's missing commit from ``remote``.

    Raises a one-line :class:`AutocommitError` for an unknown id, a run without
    autocommit tags, or a commit that is neither here nor on the remote.
    """
    text = spec.strip()
    if text.startswith("runs:/"):
        run_id = text.removeprefix("runs:/").split("/", 1)[0]
        return _resolve_run(worktree, spec, run_id, tracking_uri, remote)
    if RUN_ID.fullmatch(text):
        return _resolve_run(worktree, spec, text, tracking_uri, remote)
    commit = rev_commit(worktree, text)
    if commit is not None:
        return Resolved(commit, spec)
    if RUN_ID_PREFIX.fullmatch(text):
        return _resolve_run(worktree, spec, text, tracking_uri, remote)
    if rev_commit(worktree, "HEAD") is None:
        raise AutocommitError(
            f"{spec!r} names no commit: this repository has no commits yet",
            "commit first, or pass an MLflow run id",
        )
    raise AutocommitError(
        f"{spec!r} is neither a git revision here nor an MLflow run id",
        "pass a run id (or the start of one, as `autocommit runs` shows it) or a commit",
    )


def _resolve_run(worktree: Worktree, spec: str, run_id: str, tracking_uri: str | None,
                 remote: str | None) -> Resolved:  # fmt: skip
    from autocommit.tracking import store as tracking

    run = tracking.get_run(run_id, tracking_uri) if RUN_ID.fullmatch(run_id) else None
    if run is None:
        commit = rev_commit(worktree, spec) if RUN_ID.fullmatch(spec) else None
        if commit is not None:  # 32 hex digits that abbreviate a commit
            return Resolved(commit, spec)
        run = _run_by_prefix(run_id, tracking_uri)
    commit = run.tags.get(COMMIT_TAG, "").strip()
    if not commit:
        raise _untagged(run.run_id, run.tags)
    if not contract.OBJECT_ID.fullmatch(commit):  # a tag is anyone's text: never an option to git
        raise AutocommitError(
            f"run {run.run_id} has {COMMIT_TAG} {commit[:80]!r}, which is not a commit id",
            "the run was not tagged by autocommit; its code cannot be looked up",
        )
    if not share.has_commit(worktree.root, commit):
        share.fetch_commit(worktree, commit, remote or config.load(worktree.root).remote)
    return Resolved(commit, spec, run.run_id, run.tags)


def _run_by_prefix(prefix: str, tracking_uri: str | None) -> tracking.RunInfo:
    """The one run whose id starts with ``prefix``: none or several is an error."""
    from autocommit.tracking import store as tracking

    found = tracking.runs_by_prefix(prefix, tracking_uri) if RUN_ID_PREFIX.fullmatch(prefix) else []
    if len(found) == 1:
        return found[0]
    where = tracking.tracking_uri(tracking_uri)
    if not found:
        raise AutocommitError(
            f"no MLflow run {prefix} at {where}",
            "check the id, or pass the right --tracking-uri",
        )
    shown = ", ".join(run.run_id for run in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    raise AutocommitError(
        f"run id {prefix} is ambiguous at {where}: it starts {shown}{more}",
        "type more of the id",
    )


def _untagged(run_id: str, tags: dict[str, str]) -> AutocommitError:
    if tags.get(ERROR_TAG):
        why = " ".join(tags[ERROR_TAG].split())
        return AutocommitError(
            f"run {run_id} has no snapshot: autocommit could not take one ({why})",
            "its code cannot be recovered exactly",
        )
    base = tags.get(MLFLOW_GIT_COMMIT_TAG)
    hint = (
        f"its mlflow.source.git.commit {base[:12]} is only the HEAD it started from, "
        "without uncommitted changes"
        if base
        else "enable autocommit (`autocommit init`) so that new runs get their code tagged"
    )
    return AutocommitError(
        f"run {run_id} has no autocommit tags (it started where autocommit was not enabled)",
        hint,
    )
