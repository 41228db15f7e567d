"""What the tests share: git helpers (``git``), the one tree oracle (``oracle``), real
daemons (``daemon``), the engine's helpers (``engine``), MLflow edits and run checks
(``mlflow``), building the distributions (``packaging``)."""

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
"""The checkout's top directory."""
