"""The ``autocommit`` command: the parser (:mod:`autocommit.cli.parser`) and one module
per verb (:mod:`autocommit.cli.commands`). :func:`main` is the installed entry point."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: this process's arguments); its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    with _scan_started_early(argv):
        from autocommit.cli import parser  # argparse and the rest load while git stats

        return parser.run(argv)


def _scan_started_early(argv: Sequence[str]) -> contextlib.AbstractContextManager[None]:
    """``autocommit snapshot`` (in the current directory) starts git's ``stat`` of every
    file before anything else is imported (:mod:`autocommit.engine.scan_ahead`)."""
    if argv[:1] != ["snapshot"] or {"-h", "--help"} & set(argv):
        return contextlib.nullcontext()
    from autocommit.engine import scan_ahead

    return scan_ahead.started()
