"""autocommit: exact code versions for every ML experiment run."""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"


def mlflow_tags(path: Path | str | None = None) -> dict[str, str]:
    """The autocommit tags for an MLflow run starting now (see ``autocommit.tracking.run_tags``)."""
    from autocommit.tracking.run_tags import mlflow_tags as compute

    return compute(path)
