"""Asking MLflow about runs: one run's tags, and which runs refer to which commit.

mlflow is imported only inside these functions: it takes seconds to import, and most
commands never need it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from autocommit.errors import AutocommitError

COMMIT_TAG = "autocommit.commit"
_PAGE = 1000


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    deleted: bool  # the run, or its experiment, is in MLflow's trash
    tags: dict[str, str]


def _client(tracking_uri: str | None) -> Any:
    # A tracking server that is down should fail in seconds, not after minutes of retries.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def _unreachable(client: Any, exc: Exception) -> AutocommitError:
    what = " ".join(str(exc).split())[:300]
    return AutocommitError(
        f"cannot ask MLflow at {client.tracking_uri}: {what}",
        "check that the tracking server is up, or pass --tracking-uri",
    )


def tracking_uri(requested: str | None) -> str:
    """The URI a lookup uses: ``requested``, else MLflow's own default."""
    return str(_client(requested).tracking_uri)


def get_run(run_id: str, requested_uri: str | None) -> RunInfo | None:
    """The run with this id, or None when the tracking store has no such run."""
    from mlflow.exceptions import MlflowException

    client = _client(requested_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise _unreachable(client, exc) from exc
    except Exception as exc:  # requests' connection errors and the like
        raise _unreachable(client, exc) from exc
    deleted = run.info.lifecycle_stage == "deleted"
    return RunInfo(run.info.run_id, run.info.experiment_id, deleted, dict(run.data.tags))


def runs_by_commit(requested_uri: str | None) -> dict[str, list[RunInfo]]:
    """Every run with an ``autocommit.commit`` tag, deleted ones included, by that commit."""
    from mlflow.entities import ViewType

    client = _client(requested_uri)
    found: dict[str, list[RunInfo]] = {}
    try:
        experiments = client.search_experiments(view_type=ViewType.ALL)
        trashed = {e.experiment_id for e in experiments if e.lifecycle_stage == "deleted"}
        ids = [e.experiment_id for e in experiments]
        for start in range(0, len(ids), 100):
            token = None
            while True:
                page = client.search_runs(
                    experiment_ids=ids[start : start + 100],
                    filter_string=f"tags.`{COMMIT_TAG}` LIKE '%'",
                    run_view_type=ViewType.ALL,
                    max_results=_PAGE,
                    page_token=token,
                )
                for run in page:
                    info = RunInfo(
                        run.info.run_id,
                        run.info.experiment_id,
                        run.info.lifecycle_stage == "deleted" or run.info.experiment_id in trashed,
                        dict(run.data.tags),
                    )
                    found.setdefault(info.tags.get(COMMIT_TAG, ""), []).append(info)
                token = page.token
                if not token:
                    break
    except AutocommitError:
        raise
    except Exception as exc:
        raise _unreachable(client, exc) from exc
    found.pop("", None)
    return found
