"""The README's first command: the demo runs end to end and every one of its checks holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.readme import says


def test_demo_story_holds(tmp_path: Path) -> None:
    says("The demo works in a scratch directory it leaves behind for you to look around in")
    says("a new `autocommit-demo-*` directory under your temporary directory (`$TMPDIR`, "
         "else `/tmp`), whose path it prints last. `./dev demo --clean` deletes it")  # fmt: skip
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "autocommit.demo"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "every check held" in done.stdout
    assert done.stdout.count("  ok: ") >= 10
    (workdir,) = scratch.iterdir()  # the one directory it made, left behind
    assert workdir.name.startswith("autocommit-demo-")
    assert done.stdout.splitlines()[-1] == f"scratch directory (delete it when done): {workdir}"
    # The daemon was stopped: no pid file is left for the demo's repository.
    state = workdir / "experiment" / ".git" / "autocommit"
    assert not any(p.name.endswith(".pid") for p in state.iterdir())


@pytest.mark.parametrize("clean", [False, True], ids=["kept", "clean"])
def test_a_failed_demo_says_where_its_scratch_directory_is(tmp_path: Path, clean: bool) -> None:
    """A real failure early on (a misspelt setting in the environment stops `autocommit
    init`): the scratch directory is named, or deleted with ``--clean``."""
    workdir = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "autocommit.demo", "--dir", str(workdir),
         *(["--clean"] if clean else [])],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "AUTOCOMMIT_ENABLE": "true"},
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "did you mean AUTOCOMMIT_ENABLED?" in done.stdout + done.stderr
    assert workdir.exists() is not clean
    told = f"scratch directory (delete it when done): {workdir}"
    assert (told in done.stderr) is not clean
