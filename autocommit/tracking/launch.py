"""Runs whose code runs elsewhere: a Ray job, a Slurm or Kubernetes job, ``mlflow run``.

At submission, :func:`launch_env` snapshots and pins the working tree (as a run would)
and returns the variables a job needs (names in :mod:`autocommit.contract`). On the
worker, :func:`worker_tags` gives the run the tags it would have got at submission,
plus ``autocommit.verified``: whether the worker's files hash to the submitted tree
(:mod:`autocommit.engine.submitted_tree`). The worker runs no git, writes no refs or
objects and starts no daemon.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autocommit.contract import (
    COMMIT_TAG,
    ERROR_TAG,
    OBJECT_ID,
    REPOSITORY_TAG,
    RUN_COMMIT_VAR,
    RUN_MANIFEST_VAR,
    RUN_REPOSITORY_VAR,
    RUN_TAGS_VAR,
    RUN_TREE_VAR,
    RUN_WORKTREE_VAR,
    VERIFIED_TAG,
)
from autocommit.errors import AutocommitError
from autocommit.tracking import run_tags

if TYPE_CHECKING:
    from autocommit.engine.submitted_tree import Check, Manifest


def launch_env(path: Path | str | None = None) -> dict[str, str]:
    """Snapshot and pin the working tree now; the variables for a job that runs it elsewhere.

    ``path`` picks the repository (default: the current directory). The snapshot is the
    daemon's when one runs (its sync barrier), else taken in this process; with
    ``push_on_run`` the pin is pushed in the background. Raises :class:`AutocommitError`
    when the repository is not enabled or cannot be snapshotted.
    """
    from concurrent.futures import ThreadPoolExecutor

    from autocommit.engine.exclusions import NESTED_REPOSITORY
    from autocommit.engine.run_pin import RunPin
    from autocommit.engine.submitted_tree import manifest_of

    start = Path(path if path is not None else Path.cwd()).absolute()
    target = run_tags.find_target(start)
    if target is None:
        from autocommit.gitio.repo import find_worktree

        find_worktree(start)  # no repository, a bare one: said as every command says it
        raise AutocommitError(
            f"{start} is not in a repository where autocommit is enabled",
            "run `autocommit init` there first, or launch from such a repository",
        )
    worktree = run_tags.worktree_at(target.root)
    with ThreadPoolExecutor(max_workers=1) as pool:
        run = RunPin(worktree, pool)
        snap = run_tags.snapshot_for_run(worktree, target.settings, run)
        tags = run_tags.tags_for(worktree, target.settings, snap, run)  # pins, pushes
    repository = _repository(target.root, target.settings.remote)
    tags[REPOSITORY_TAG] = repository
    env = {
        RUN_COMMIT_VAR: run.commit,
        RUN_TREE_VAR: snap.tree,
        RUN_REPOSITORY_VAR: repository,
        RUN_WORKTREE_VAR: str(target.root),
        RUN_TAGS_VAR: json.dumps(tags, sort_keys=True),
    }
    left_out = [s.path + "/" if s.reason == NESTED_REPOSITORY else s.path for s in snap.skipped]
    env[RUN_MANIFEST_VAR] = manifest_of(target.root, snap.tree, left_out).encode_within()
    return env


def _repository(root: Path, remote: str) -> str:
    """The URL of ``remote`` when the repository has it, else the repository's path."""
    from autocommit.gitio import git

    proc = git.run(["config", "--get", "--end-of-options", f"remote.{remote}.url"], root,
                   check=False)  # fmt: skip
    url = proc.stdout.decode(errors="replace").strip()
    return url or str(root)


@dataclass(frozen=True)
class Submitted:
    """What a launcher passed to this process about the code it submitted."""

    commit: str
    tree: str
    worktree: str
    tags: dict[str, str]
    manifest: str | None


def submitted(environ: Mapping[str, str] | None = None) -> Submitted | None:
    """The submitted run named by the environment, or None when there is none."""
    env = os.environ if environ is None else environ
    commit, tree = env.get(RUN_COMMIT_VAR, ""), env.get(RUN_TREE_VAR, "")
    if not commit and not tree:
        return None
    if not OBJECT_ID.fullmatch(commit) or not OBJECT_ID.fullmatch(tree):
        raise AutocommitError(
            f"{RUN_COMMIT_VAR}/{RUN_TREE_VAR} do not name a commit and a tree",
            "pass the variables autocommit.launch_env() returns, unchanged",
        )
    try:
        tags = json.loads(env.get(RUN_TAGS_VAR) or "{}")
    except ValueError:
        tags = {}
    if not isinstance(tags, dict):
        tags = {}
    return Submitted(commit, tree, env.get(RUN_WORKTREE_VAR, ""),
                     {str(k): str(v) for k, v in tags.items()},
                     env.get(RUN_MANIFEST_VAR))  # fmt: skip


def applies(found: run_tags.Target | None, job: Submitted) -> bool:
    """Whether ``job``'s tags apply rather than ``found``'s snapshot: no enabled repository
    here, or one at another path than the submitting one (a copied ``.git``, whose pins
    nobody would ever see). The submitting working tree itself (a shared file system)
    takes the normal path: its snapshot is the submitted one unless files changed."""
    if found is None:
        return True
    return os.path.realpath(found.root) != os.path.realpath(job.worktree or "/nonexistent")


def worker_tags(job: Submitted, directory: Path | None = None) -> dict[str, str]:
    """The submitted run's tags, checked against the files of ``directory`` (default:
    :func:`code_directory`); never raises."""
    from autocommit.engine.submitted_tree import Manifest, check

    tags = dict(job.tags)
    tags[COMMIT_TAG] = job.commit
    try:
        manifest = Manifest.decode(job.manifest) if job.manifest else None
        result = check(directory or code_directory(manifest), job.tree, manifest)
    except Exception as exc:
        tags[VERIFIED_TAG] = "false"
        tags[ERROR_TAG] = run_tags.truncate(f"the files here could not be checked: {exc}")
        return tags
    tags[VERIFIED_TAG] = "true" if result.verified(job.tree) else "false"
    if not result.verified(job.tree):
        named = manifest is not None and manifest.listed
        tags[ERROR_TAG] = run_tags.truncate(_mismatch(result, named))
    return tags


def code_directory(manifest: Manifest | None) -> Path:
    """Where the submitted files are: the current directory, where launchers put them;
    else the first import path that holds them (a Ray Tune trial or a Ray Train worker
    runs in a trial directory of its own, its code on ``sys.path``). A directory "holds
    them" when the first few files the manifest lists are there."""
    import sys

    here = Path.cwd()
    sample = sorted(manifest.entries)[:5] if manifest is not None and manifest.listed else []
    if not sample:
        return here
    for candidate in (str(here), *sys.path):
        if candidate and all(os.path.lexists(os.path.join(candidate, p)) for p in sample):
            return Path(candidate)
    return here


def _mismatch(result: Check, named: bool) -> str:
    head = f"the files here (tree {result.tree}) differ from the submitted tree"
    if not named:
        return head + " (it was too large to list its files; compare with `autocommit diff`)"
    more = f"\n… and {result.more} more" if result.more else ""
    return head + ":\n" + "\n".join(result.differing) + more


def find_source(path: Path | str | None = None) -> run_tags.Target | Submitted | None:
    """What a run starting now gets its tags from: the enabled repository it runs in, or
    the submitted run named by the environment (:func:`applies`), or nothing."""
    found = run_tags.find_target(path)
    job = submitted()
    if job is not None and applies(found, job):
        return job
    return found


def tags_for_source(source: run_tags.Target | Submitted) -> dict[str, str]:
    """The tags of a run from :func:`find_source`'s answer; never raises."""
    if isinstance(source, Submitted):
        return worker_tags(source)
    return run_tags.tags_for_target(source)


def mlflow_tags(path: Path | str | None = None) -> dict[str, str]:
    """:func:`autocommit.tracking.run_tags.mlflow_tags`, on a worker too."""
    try:
        source = find_source(path)
    except Exception as exc:
        return run_tags.error_tags(exc)
    return {} if source is None else tags_for_source(source)
