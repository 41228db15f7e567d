"""Arguments several commands share, declared once so their help reads the same."""

from __future__ import annotations

import argparse

TARGET_HELP = (
    "an MLflow run id (or a unique prefix of 4+ digits, as `autocommit runs` shows) "
    "or a git revision"
)


def add_target(
    parser: argparse.ArgumentParser, name: str = "target", metavar: str = "RUN_ID|REV"
) -> None:
    """A run id or revision: the one that show, checkout and restore act on, diff's two."""
    parser.add_argument(name, metavar=metavar, help=TARGET_HELP)


def add_json(parser: argparse.ArgumentParser, what: str = "JSON") -> None:
    """``--json``: ``what`` is what it prints (JSON, "the status as JSON", ...)."""
    parser.add_argument("--json", action="store_true", help=f"print {what}")


def add_tracking_uri(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="the MLflow tracking server or store (default: MLFLOW_TRACKING_URI, "
        "else MLflow's default)",
    )


def add_max_count(parser: argparse.ArgumentParser, default: int) -> None:
    parser.add_argument("-n", "--max-count", type=_positive, default=default, metavar="N",
                        help=f"at most N, a number from 1 up (default {default})")  # fmt: skip


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 up")
    return number
