"""``autocommit status`` with settings it cannot read: the daemon's state and the error."""

from __future__ import annotations

import json
from pathlib import Path

from autocommit.gitio.repo import Worktree
from tests.support.cli import run_cli
from tests.support.readme import says

BROKEN = "[tool.autocommit\nquiet_period =\n"  # a pyproject.toml half typed


def test_status_shows_the_settings_error_beside_the_running_daemon(daemon: Worktree) -> None:
    says("`autocommit status` shows the error beside the daemon's state and exits with status 1")
    says("(`--json` gives the error as `settings_error`)")
    (daemon.root / "pyproject.toml").write_text(BROKEN)

    shown = run_cli(daemon.root, "status")
    assert shown.returncode == 1
    assert shown.stdout.startswith("running (pid "), shown.stdout
    assert "watching: inotify" in shown.stdout
    assert shown.stderr.startswith("autocommit: error: cannot read ")
    assert shown.stderr.count("\n") == 1 and "pyproject.toml" in shown.stderr

    as_json = run_cli(daemon.root, "status", "--json")
    assert as_json.returncode == 1
    info = json.loads(as_json.stdout)
    assert info["running"] is True and info["enabled"] is True
    assert "pyproject.toml" in info["settings_error"]
    assert info["settings_error"] in as_json.stderr


def test_status_without_a_daemon_and_settings_never_read(enabled: Path) -> None:
    (enabled / "pyproject.toml").write_text(BROKEN)
    shown = run_cli(enabled, "status")
    assert shown.returncode == 1
    assert shown.stdout.startswith("not running"), shown.stdout
    assert "cannot read" in shown.stderr
    info = json.loads(run_cli(enabled, "status", "--json").stdout)
    assert info["running"] is False and info["enabled"] is None
    assert "pyproject.toml" in info["settings_error"]


def test_status_with_readable_settings_has_no_error(daemon: Worktree) -> None:
    as_json = run_cli(daemon.root, "status", "--json")
    assert as_json.returncode == 0 and as_json.stderr == ""
    assert "settings_error" not in json.loads(as_json.stdout)
