"""``autocommit runs``: MLflow runs and the code snapshot each one ran."""

from __future__ import annotations

import argparse
import datetime
import re
from dataclasses import asdict, dataclass
from typing import Any

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json, print_table

_HEX = re.compile(r"[0-9a-f]{40,64}")

HELP = "list MLflow runs with their snapshot commit and whether that code is here"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_json(parser, "JSON instead of a table")
    parser.add_argument(
        "--experiment",
        action="append",
        metavar="NAME|ID",
        help="only runs of this experiment (repeatable; default: every active experiment)",
    )
    arguments.add_tracking_uri(parser)
    arguments.add_max_count(parser, 50)


@dataclass(frozen=True)
class RunEntry:
    run_id: str
    experiment_id: str
    run_name: str
    start_time: str  # ISO 8601, local time
    status: str
    commit: str | None  # autocommit.commit, None for a run without autocommit tags
    dirty: bool | None
    head: str | None
    branch: str | None
    changes: str | None  # the diffstat vs HEAD
    available: bool | None  # the commit exists in this repository (None: not in one)
    error: str | None  # autocommit.error: why the run has no snapshot


def run(args: argparse.Namespace) -> int:
    return runs(experiments=args.experiment, max_count=args.max_count,
                tracking_uri=args.tracking_uri, as_json=args.json)  # fmt: skip


def runs(*, experiments: list[str] | None, max_count: int, tracking_uri: str | None,
         as_json: bool) -> int:  # fmt: skip
    """The latest runs of the tracking store, with their snapshots."""
    from autocommit.errors import AutocommitError
    from autocommit.tracking.store import store_client, unreachable

    client = store_client(tracking_uri)
    try:
        experiment_ids = _experiment_ids(client, experiments)
        found = client.search_runs(
            experiment_ids=experiment_ids,
            max_results=max_count,
            order_by=["attributes.start_time DESC"],
        )
    except AutocommitError:
        raise
    except Exception as exc:  # a server that is down, a store that cannot be read
        raise unreachable(client, exc) from exc
    entries = _entries(found)
    if as_json:
        print_json([asdict(e) for e in entries])
        return 0
    if not entries:
        print("no MLflow runs found")
        return 0
    print_table(
        ["run", "started", "name", "snapshot", "dirty", "code here", "changes vs HEAD"],
        [_row(e) for e in entries],
    )
    return 0


def _experiment_ids(client: Any, wanted: list[str] | None) -> list[str]:
    from mlflow.exceptions import MlflowException

    from autocommit.errors import AutocommitError

    if not wanted:
        return [e.experiment_id for e in client.search_experiments()]
    ids = []
    for name in wanted:
        experiment = client.get_experiment_by_name(name)
        if experiment is None and name.isdigit():
            try:
                experiment = client.get_experiment(name)
            except MlflowException:
                experiment = None
        if experiment is None:
            raise AutocommitError(
                f"no MLflow experiment named or numbered {name!r} at {client.tracking_uri}",
                "check --experiment and --tracking-uri",
            )
        ids.append(experiment.experiment_id)
    return ids


def _entries(runs: list[Any]) -> list[RunEntry]:
    from autocommit import contract as tag

    commits = [r.data.tags.get(tag.COMMIT_TAG) for r in runs]
    here = _available_commits([c for c in commits if c])
    entries = []
    for found, commit in zip(runs, commits, strict=True):
        tags = found.data.tags
        started = datetime.datetime.fromtimestamp((found.info.start_time or 0) / 1000)
        entries.append(
            RunEntry(
                run_id=found.info.run_id,
                experiment_id=found.info.experiment_id,
                run_name=found.info.run_name or "",
                start_time=started.isoformat(timespec="seconds"),
                status=found.info.status,
                commit=commit,
                dirty=tags[tag.DIRTY_TAG] == "true" if tag.DIRTY_TAG in tags else None,
                head=tags.get(tag.HEAD_TAG),
                branch=tags.get(tag.BRANCH_TAG),
                changes=tags.get(tag.CHANGES_TAG),
                available=None if here is None or not commit else commit in here,
                error=tags.get(tag.ERROR_TAG),
            )
        )
    return entries


def _available_commits(commits: list[str]) -> set[str] | None:
    """The commits of ``commits`` present in the current repository (None: not in one)."""
    from autocommit.errors import AutocommitError
    from autocommit.gitio import git
    from autocommit.gitio.repo import find_worktree

    try:
        worktree = find_worktree()
    except AutocommitError:
        return None
    if not commits:
        return set()
    unique = sorted({c for c in commits if _HEX.fullmatch(c)})
    query = "".join(f"{c}^{{commit}}\n" for c in unique).encode()
    answer = git.out(["cat-file", "--batch-check=%(objectname)"], worktree.root, input=query)
    return {c for c, line in zip(unique, answer.splitlines(), strict=True) if line == c}


def _row(entry: RunEntry) -> tuple[str, ...]:
    if entry.commit is None:
        snapshot = dirty = here = "-"
        changes = f"error: {entry.error}" if entry.error else "(no autocommit tags)"
    else:
        snapshot = entry.commit[:12]
        dirty = "dirty" if entry.dirty else "clean"
        here = {True: "yes", False: "no", None: "?"}[entry.available]
        changes = _short(entry.changes) if entry.dirty else "-"
    return (entry.run_id[:8], entry.start_time.replace("T", " "), entry.run_name,
            snapshot, dirty, here, changes)  # fmt: skip


def _short(changes: str | None) -> str:
    """The total of the changes: ``3 files changed, 10 insertions(+)``."""
    from autocommit.engine.change_summary import changes_total

    return changes_total(changes) if changes else ""
