"""The README's first command: the demo runs end to end and every one of its checks holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_story_holds(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "autocommit.demo", "--dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "every check held" in done.stdout
    assert done.stdout.count("  ok: ") >= 10
    # The daemon was stopped: no pid file is left for the demo's repository.
    state = tmp_path / "demo" / "experiment" / ".git" / "autocommit"
    assert not any(p.name.endswith(".pid") for p in state.iterdir())
