"""autocommit: exact code versions for every ML experiment run."""

from __future__ import annotations

# typing.TYPE_CHECKING without loading typing (and re): a new `autocommit snapshot`
# starts git before anything else loads (see autocommit.cli.main). Type checkers read it
# as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

__version__ = "0.1.0"


def mlflow_tags(path: Path | str | None = None) -> dict[str, str]:
    """The autocommit tags for an MLflow run starting now (see ``autocommit.tracking.run_tags``)."""
    from autocommit.tracking.launch import mlflow_tags as compute

    return compute(path)


def launch_env(path: Path | str | None = None) -> dict[str, str]:
    """Snapshot and pin the code now; the environment variables for a job that runs it
    elsewhere (see ``autocommit.tracking.launch``)."""
    from autocommit.tracking.launch import launch_env as compute

    return compute(path)
