"""The distributions a user installs: what they hold, their metadata, and a fresh install."""

from __future__ import annotations

import email
import json
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.support import PROJECT
from tests.support.git import git
from tests.support.packaging import fresh_venv


def test_the_declared_python_is_the_one_checked(dists: tuple[Path, Path]) -> None:
    """requires-python, the linters' target and the classifiers name the same lowest
    version; the metadata says so; tomli is gone."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.11"
    assert project["tool"]["ruff"]["target-version"] == "py311"
    assert project["tool"]["mypy"]["python_version"] == "3.11"
    assert not any("tomli" in d for d in project["project"]["dependencies"])
    with zipfile.ZipFile(dists[1]) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(wheel.read(name))
    assert metadata["Requires-Python"] == ">=3.11"
    assert "Programming Language :: Python :: 3.11" in (metadata.get_all("Classifier") or [])
    assert metadata["License-Expression"] == "MIT" and metadata["Author"]


def test_sdist_and_wheel_hold_what_a_user_needs_and_pass_twine(
    dists: tuple[Path, Path],
) -> None:
    sdist, wheel = dists
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(sdist),
                           str(wheel)], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "CHANGELOG.md", "autocommit/py.typed"} <= names
    # The tests need this repository's checkout (hook repository, helpers, benchmarks):
    # none is shipped rather than some that cannot run.
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/"))]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "autocommit/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if n.startswith("tests/")]


@pytest.mark.install
def test_the_wheel_in_a_fresh_virtualenv_tags_an_mlflow_run(
    dists: tuple[Path, Path], tmp_path: Path
) -> None:
    """What the README's Install section says, from the built wheel: install with the
    mlflow extra into a new virtualenv, `autocommit init`, one run tagged with its code."""
    started = time.monotonic()
    python = fresh_venv(tmp_path / "venv", f"{dists[1]}[mlflow]")
    installed = time.monotonic() - started
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "train.py").write_text(
        "import mlflow\n"
        "mlflow.set_tracking_uri('sqlite:///mlflow.db')\n"
        "with mlflow.start_run() as run:\n"
        "    print(run.info.run_id)\n"
    )
    (repo / ".gitignore").write_text("mlflow.db\nmlruns/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "train")
    bin_dir = python.parent
    done = subprocess.run([str(bin_dir / "autocommit"), "init", "--no-daemon"], cwd=repo,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# uncommitted\n")
    done = subprocess.run([str(python), "train.py"], cwd=repo, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.split()[-1]
    shown = subprocess.run([str(bin_dir / "autocommit"), "show", run_id[:8], "--json",
                            "--tracking-uri", "sqlite:///mlflow.db"],
                           cwd=repo, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert found["run_id"] == run_id and found["dirty"] is True
    assert [c["path"] for c in found["changes"]] == ["train.py"]
    committed = git(repo, "show", f"{found['commit']}:train.py")
    assert committed.endswith("# uncommitted\n")
    print(f"fresh virtualenv with autocommit[mlflow]: {installed:.0f} s")
