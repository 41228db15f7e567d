"""``autocommit systemd-unit``: a user-level systemd unit that keeps the daemon running."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from autocommit.notices import note

if TYPE_CHECKING:
    from autocommit.gitio.repo import Worktree


HELP = "print (or --install) a systemd user unit that runs this worktree's daemon at login"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--install",
        action="store_true",
        help="write it to ~/.config/systemd/user/ (instead of printing it)",
    )


def unit_name(root: Path) -> str:
    """``autocommit-<dir name>-<hash of the path>.service``: one unit per worktree."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", root.name).strip("-") or "repo"
    digest = hashlib.sha1(str(root).encode(errors="surrogateescape")).hexdigest()[:8]
    return f"autocommit-{slug}-{digest}.service"


def _quote(text: str) -> str:
    """Quote for systemd's command lines and values (and escape its % specifiers)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def unit_text(root: Path) -> str:
    argv = (sys.executable, "-m", "autocommit", "-C", str(root), "run", "--foreground")
    command = " ".join(_quote(a) for a in argv)
    return (
        "[Unit]\n"
        f"Description=autocommit watch daemon for {str(root).replace('%', '%%')}\n"
        f"ConditionPathIsDirectory={str(root).replace('%', '%%')}\n\n"
        "[Service]\n"
        "Type=notify\n"
        f"ExecStart={command}\n"
        "Restart=on-failure\n"
        "RestartSec=5\n"
        "TimeoutStopSec=120\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def run(args: argparse.Namespace) -> int:
    from autocommit.gitio.repo import find_worktree

    return systemd_unit(find_worktree(), install=args.install)


def systemd_unit(worktree: Worktree, *, install: bool) -> int:
    from autocommit import state_files
    from autocommit.errors import AutocommitError
    from autocommit.settings import config

    if not config.load(worktree.root).enabled:
        raise AutocommitError(
            f"autocommit is not enabled in {worktree.root}", "run `autocommit init` first"
        )
    text = unit_text(worktree.root)
    name = unit_name(worktree.root)
    if not install:
        print(text, end="")
        note(f"save it as ~/.config/systemd/user/{name} (or use --install)")
        return 0
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = base / "systemd" / "user" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    state_files.write_atomically(path, text.encode(), mode=0o644)
    note(f"wrote {path}")
    note(f"enable it: systemctl --user daemon-reload && systemctl --user enable --now {name}")
    print(path)
    return 0
