"""The ``autocommit`` command: a thin layer that parses arguments and calls a command.

Each command lives in ``autocommit/cli/commands/<name>.py`` and exposes ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import only light
modules at import time, and a command line that names its command imports that
command's module alone, so ``autocommit snapshot`` and the git hooks start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import NoReturn

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
    "exec",
    "start",
    "stop",
    "status",
    "run",
    "systemd-unit",
    "install-hooks",
    "uninstall-hooks",
    "disable",
    "hook",
)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"autocommit.cli.commands.{name.replace('-', '_')}")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake told in one line that points to ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only`` (a command), the parser of that command alone
    (:func:`command_of` names one only when the command line needs no other)."""
    parser = _Parser(
        prog="autocommit",
        description="Exact code versions for every MLflow run: snapshots of the working "
        "tree on shadow branches (refs/autocommit/heads/<branch>), never on yours.",
    )
    parser.add_argument("--version", action="version", version=f"autocommit {__version__}")
    parser.add_argument(
        "-C",
        dest="directories",
        action="append",
        default=[],
        metavar="DIR",
        help="run as if started in DIR (repeatable: each one relative to the one before)",
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    for name in COMMANDS if only is None else (only,):
        module = _module(name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, when nothing before it but ``-C DIR`` (None: the top
    level's own options, ``--help`` among them, and a mistyped command, told with the
    list of commands, need the whole parser)."""
    words = iter(argv)
    for word in words:
        if word == "-C":
            next(words, None)
        elif not word.startswith("-C"):
            return word if word in COMMANDS else None
    return None


def run(argv: Sequence[str]) -> int:
    """Parse ``argv`` and run its command; the exit code (:func:`autocommit.cli.main`
    is the entry point)."""
    args = build_parser(command_of(argv)).parse_args(argv)
    try:
        with _in_directories(args.directories):
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


@contextlib.contextmanager
def _in_directories(directories: list[str]) -> Iterator[None]:
    """``-C DIR``, as git does it: each one relative to the one before; empty ones ignored.
    The caller's directory comes back afterwards (``main`` is called in-process too)."""
    if not any(directories):
        yield
        return
    previous = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for directory in filter(None, directories):
            try:
                os.chdir(directory)
            except OSError as exc:
                raise AutocommitError(
                    f"cannot change to {directory!r} (-C): {exc.strerror or exc}",
                    "pass an existing directory to -C",
                ) from exc
        yield
    finally:
        os.fchdir(previous)
        os.close(previous)
