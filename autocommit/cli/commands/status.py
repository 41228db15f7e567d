"""``autocommit status``: is the watch daemon running, and what has it done."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from autocommit.cli.commands import arguments
from autocommit.cli.output import print_json
from autocommit.errors import AutocommitError

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = (
    "show the watch daemon's state (exit status 3 when it is not running, 1 when the "
    "settings cannot be read)"
)
EXIT_NOT_RUNNING = 3
EXIT_SETTINGS_ERROR = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_json(parser, "the status as JSON")


def _duration(seconds: float) -> str:
    """The two largest units: ``3d 4h``, ``5m 2s``."""
    rest = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count or parts:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2]) or "0s"


def _lines(info: dict[str, Any]) -> list[str]:
    if info.get("enabled") is False:
        return ["not enabled in this repository: run `autocommit init` first"]
    if not info.get("running"):
        stale = info.get("stale_pid")
        extra = f" (pid {stale} is gone; `autocommit start` recovers)" if stale else ""
        return [f"not running{extra}", "start it with `autocommit start`"]
    if "watch_mode" not in info:
        return [f"starting (pid {info.get('pid')})"]
    lines = [f"running (pid {info['pid']}, up {_duration(info['uptime_seconds'])})"]
    mode = info["watch_mode"]
    if mode == "inotify":
        lines.append(f"watching: inotify, {info['watches']} directories")
    else:
        lines.append(f"watching: {mode}, because {info.get('watch_problem')}")
    lines.append(
        f"state: {info['state']}"
        + (f" ({info['git_operation']} in progress)" if info.get("git_operation") else "")
    )
    snap = info.get("last_snapshot")
    if snap:
        lines.append(
            f"last snapshot: {snap['commit'][:12]} on {snap['shadow_ref']} "
            f"at {snap['at']}: {snap['summary']}"
        )
    pending = "a full scan" if info["full_scan_pending"] else str(info["pending_changes"])
    lines.append(f"pending changes: {pending}")
    if info.get("last_error"):
        lines.append(f"last error ({info['last_error_at']}): {info['last_error']}")
    lines.append(f"log: {info['log']}")
    return lines


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return status(find_worktree(), as_json=args.json)


def status(worktree: Worktree, *, as_json: bool) -> int:
    from autocommit.daemon import client
    from autocommit.settings import config

    info = client.status(worktree)
    # Broken settings (a `pyproject.toml` half typed) do not stop the daemon: show its
    # state beside the error, with the settings last read deciding "enabled".
    try:
        settings, broken = config.load_or_last_good(worktree)
        info["enabled"] = settings.enabled
    except AutocommitError as exc:  # unreadable, and never read here before
        broken = exc
        info["enabled"] = None  # unknown
    if broken is not None:
        info["settings_error"] = broken.one_line()
    if as_json:
        print_json(info)
    else:
        print("\n".join(_lines(info)))
    if broken is not None:
        print(f"autocommit: error: {broken.one_line()}", file=sys.stderr)
        return EXIT_SETTINGS_ERROR
    return 0 if info.get("running") else EXIT_NOT_RUNNING
