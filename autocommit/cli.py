"""The ``autocommit`` command: a thin layer that parses arguments and calls a command.

Each command lives in ``autocommit/commands/<name>.py`` and exposes ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import only light
modules at import time, so ``autocommit --help`` and the git hooks start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from autocommit import __version__
from autocommit.errors import AutocommitError

# Order is the order of `autocommit --help`.
COMMANDS: tuple[str, ...] = (
    "init",
    "snapshot",
    "log",
    "runs",
    "show",
    "diff",
    "checkout",
    "restore",
    "prune",
    "maintain",
    "push",
    "fetch",
    "start",
    "stop",
    "status",
    "run",
    "systemd-unit",
    "install-hooks",
    "uninstall-hooks",
    "hook",
)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"autocommit.commands.{name.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autocommit",
        description="Exact code versions for every MLflow run: snapshots of the working "
        "tree on shadow branches (refs/autocommit/heads/<branch>), never on yours.",
    )
    parser.add_argument("--version", action="version", version=f"autocommit {__version__}")
    parser.add_argument("-C", dest="directory", metavar="DIR", help="run as if started in DIR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = _module(name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.directory:
            import os

            os.chdir(args.directory)
        result: int = args.run(args)
        return result
    except AutocommitError as exc:
        print(f"autocommit: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`autocommit log | head`): not an error of ours.
        sys.stderr.close()
        return 0
    except FileNotFoundError as exc:
        print(f"autocommit: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a full disk, a read-only file system, …
        print(f"autocommit: error: {exc.strerror or exc}; nothing was changed", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
