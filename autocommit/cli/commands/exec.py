"""``autocommit exec -- <command>``: snapshot and pin now, then run a launcher with the
variables a job that runs the code elsewhere needs (``autocommit.launch_env()``)."""

from __future__ import annotations

import argparse
import os
import subprocess

from autocommit.errors import AutocommitError
from autocommit.notices import note

HELP = (
    "snapshot and pin the working tree now, then run COMMAND (a launcher: sbatch, "
    "mlflow run, a script of yours) with AUTOCOMMIT_RUN_* set, so the job's runs "
    "are tagged with this commit and checked against it; exits with COMMAND's status"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
        help="the command to run, after `--`",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from autocommit.contract import RUN_COMMIT_VAR
    from autocommit.tracking.launch import launch_env

    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise AutocommitError(
            "no command to run", "name it after `--`: autocommit exec -- sbatch job.sh"
        )
    env = launch_env(os.getcwd())
    note(f"running {command[0]} for run commit {env[RUN_COMMIT_VAR]}")
    try:
        status = subprocess.call(command, env={**os.environ, **env})
    except OSError as exc:
        raise AutocommitError(
            f"cannot run {command[0]!r}: {exc.strerror or exc}", "check the command's name"
        ) from exc
    return status if status >= 0 else 128 - status  # killed by a signal: as a shell says it
