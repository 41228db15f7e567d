"""Asking MLflow about runs: one run's tags, and which runs refer to which commit.

mlflow is imported only inside these functions: it takes seconds to import, and most
commands never need it.
"""

from __future__ import annotations

import logging
import os
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocommit.contract import COMMIT_TAG, CONTEXT_TAG
from autocommit.errors import AutocommitError

_PAGE = 1000


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    deleted: bool  # the run, or its experiment, is in MLflow's trash
    tags: dict[str, str]


def store_client(tracking_uri: str | None) -> Any:
    """A client for an existing store: ``tracking_uri``, else MLflow's default.

    Reading runs must never create anything: MLflow would make an empty sqlite database
    (and its directories) wherever the URI points, so a store that is not there is an
    error instead, as are MLflow missing and a URI MLflow cannot use.
    """
    # A tracking server that is down should fail in seconds, not after minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    try:
        import mlflow
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise AutocommitError(
            f"MLflow is not installed in {sys.executable} ({exc})",
            "install it there (pip install 'autocommit[mlflow]'), or pass a commit instead",
        ) from exc
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # no store set-up chatter
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri or mlflow.get_tracking_uri()
    scheme = urllib.parse.urlparse(uri).scheme
    _refuse_missing_store(uri, scheme)
    try:
        return MlflowClient(tracking_uri=uri)
    except Exception as exc:  # an unknown scheme, a store MLflow no longer supports
        if scheme in ("", "file"):
            raise AutocommitError(
                f"MLflow refuses the file store {uri} (it is in maintenance mode)",
                "move it to a database with `mlflow migrate-filestore`, or set "
                "MLFLOW_ALLOW_FILE_STORE=true",
            ) from exc
        what = " ".join(str(exc).split()).split(". ", 1)[0][:200]
        raise AutocommitError(
            f"MLflow cannot use the tracking URI {uri!r}: {what}",
            "pass a sqlite:/// database or an http(s):// server as --tracking-uri "
            "or MLFLOW_TRACKING_URI",
        ) from exc


def _refuse_missing_store(uri: str, scheme: str) -> None:
    """A store that is not there is an error: MLflow would create an empty one."""
    if scheme == "sqlite":
        where = uri.removeprefix("sqlite://").split("?", 1)[0].removeprefix("/")
        if where in ("", ":memory:"):
            return
        path = Path(where)
        kind = "database"
    elif scheme in ("", "file"):
        path = Path(urllib.parse.urlparse(uri).path if scheme else uri)
        kind = "file store"
    else:
        return
    if not (path.is_file() if kind == "database" else path.is_dir()):
        raise AutocommitError(
            f"no MLflow {kind} at {path.absolute()}",
            "check --tracking-uri or MLFLOW_TRACKING_URI",
        )


def unreachable(client: Any, exc: Exception) -> AutocommitError:
    what = " ".join(str(exc).split())[:300]
    return AutocommitError(
        f"cannot ask MLflow at {client.tracking_uri}: {what}",
        "check that the tracking server is up, or pass --tracking-uri",
    )


def tracking_uri(requested: str | None) -> str:
    """The URI a lookup uses: ``requested``, else MLflow's own default."""
    return str(store_client(requested).tracking_uri)


def get_run(run_id: str, requested_uri: str | None) -> RunInfo | None:
    """The run with this id, or None when the tracking store has no such run."""
    client = store_client(requested_uri)
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise unreachable(client, exc) from exc
    except Exception as exc:  # requests' connection errors and the like
        raise unreachable(client, exc) from exc
    deleted = run.info.lifecycle_stage == "deleted"
    return RunInfo(run.info.run_id, run.info.experiment_id, deleted, dict(run.data.tags))


def runs_by_commit(requested_uri: str | None) -> dict[str, list[RunInfo]]:
    """Every run with an ``autocommit.commit`` tag, deleted ones included, by that commit
    and by its context commit (``autocommit.context``): both are pinned for the run."""
    found: dict[str, list[RunInfo]] = {}
    for info in _every_run(requested_uri, f"tags.`{COMMIT_TAG}` LIKE '%'"):
        found.setdefault(info.tags.get(COMMIT_TAG, ""), []).append(info)
        if info.tags.get(CONTEXT_TAG):
            found.setdefault(info.tags[CONTEXT_TAG], []).append(info)
    found.pop("", None)
    return found


def runs_by_prefix(prefix: str, requested_uri: str | None) -> list[RunInfo]:
    """Every run, deleted ones included, whose id starts with ``prefix`` (hex digits)."""
    return list(_every_run(requested_uri, f"attributes.run_id LIKE '{prefix}%'"))


def _every_run(requested_uri: str | None, filter_string: str) -> list[RunInfo]:
    """The runs of every experiment, deleted ones included, that match ``filter_string``."""
    client = store_client(requested_uri)
    from mlflow.entities import ViewType

    found: list[RunInfo] = []
    try:
        experiments = client.search_experiments(view_type=ViewType.ALL)
        trashed = {e.experiment_id for e in experiments if e.lifecycle_stage == "deleted"}
        ids = [e.experiment_id for e in experiments]
        for start in range(0, len(ids), 100):
            token = None
            while True:
                page = client.search_runs(
                    experiment_ids=ids[start : start + 100],
                    filter_string=filter_string,
                    run_view_type=ViewType.ALL,
                    max_results=_PAGE,
                    page_token=token,
                )
                found += [
                    RunInfo(
                        run.info.run_id,
                        run.info.experiment_id,
                        run.info.lifecycle_stage == "deleted" or run.info.experiment_id in trashed,
                        dict(run.data.tags),
                    )
                    for run in page
                ]
                token = page.token
                if not token:
                    break
    except AutocommitError:
        raise
    except Exception as exc:
        raise unreachable(client, exc) from exc
    return found
