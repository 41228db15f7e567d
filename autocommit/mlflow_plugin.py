"""The MLflow plugin: every new run of an enabled repository gets its exact code snapshot.

MLflow finds this class through the ``mlflow.run_context_provider`` entry point and
imports it while importing its tracking code, so this module imports nothing heavy and
cannot raise: anything that fails later becomes an ``autocommit.error`` tag, never a
failed run. MLflow merges the plugins' tags after its own, so ours (including
``mlflow.source.git.commit``) win.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    _Base = object
else:
    try:
        from mlflow.tracking.context.abstract_context import RunContextProvider as _Base
    except Exception:  # an MLflow without it must still import this module
        _Base = object


class AutocommitRunContextProvider(_Base):
    """``in_context``: is the run's repository enabled, or was its code submitted from one
    (``autocommit.launch_env()``)? ``tags``: snapshot, pin, describe; or check the files."""

    def __init__(self) -> None:
        # MLflow calls in_context() then tags() right away; keep what in_context found,
        # per thread, so tags() does not look it up again.
        self._found = threading.local()

    def in_context(self) -> bool:
        try:
            from autocommit.tracking import launch

            self._found.value = launch.find_source()
        except Exception as exc:
            self._found.value = exc
            return True  # an enabled repository that cannot be read: report it on the run
        return self._found.value is not None

    def tags(self) -> dict[str, str]:
        found: Any = getattr(self._found, "value", None)
        self._found.value = None
        try:
            from autocommit.tracking import launch, run_tags

            if isinstance(found, Exception):
                return run_tags.error_tags(found)
            source = found if found is not None else launch.find_source()
            return {} if source is None else launch.tags_for_source(source)
        except Exception as exc:
            return {"autocommit.error": f"{type(exc).__name__}: {exc}"}
