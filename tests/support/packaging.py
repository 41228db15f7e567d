"""Building the distributions from this checkout, and virtualenvs that install them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from tests.support import PROJECT

# The user's pip cache (tests get a fresh HOME): what an earlier install downloaded is
# reused, so a fresh virtualenv costs seconds, not a download of MLflow.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


def build(into: Path) -> tuple[Path, Path]:
    """``python -m build`` of the checkout's files (tracked, or new and not ignored),
    copied first so that the build leaves nothing in the checkout; (sdist, wheel)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    source = into / "source"
    for name in listed.decode().split("\0"):
        if name and (PROJECT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, source / name)
    out = into / "dist"
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return next(out.glob("*.tar.gz")), next(out.glob("*.whl"))


def fresh_venv(where: Path, *requirements: str) -> Path:
    """A new virtualenv (no system site-packages) with ``requirements`` installed by pip
    as a user would (from the package index, through pip's cache); its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    python = where / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_CACHE_DIR"] = PIP_CACHE
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements],
                          capture_output=True, text=True, env=env, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return python
