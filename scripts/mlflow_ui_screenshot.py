"""Screenshot the run page of the real MLflow UI for a run autocommit tagged.

What a user sees of autocommit's tags in MLflow's UI is checked by eye: this script
makes a repository with uncommitted work, enables autocommit, starts one MLflow run,
serves the store with ``mlflow server`` on 127.0.0.1 and has headless Chromium save the
run page as PNG files (the page at the top, and scrolled to the tags). It stops the
server before it exits.

    python scripts/mlflow_ui_screenshot.py [OUT_DIR]   # default: ./mlflow-ui-screenshots

Needs ``chromium`` (Debian: ``apt-get install chromium``) and this project installed with
the mlflow extra.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repository(root: Path) -> None:
    """A small project with a commit, then edits and new files left uncommitted."""
    root.mkdir()
    git(root, "init", "-q")
    git(root, "config", "user.name", "Screenshot")
    git(root, "config", "user.email", "screenshot@example.com")
    (root / "train.py").write_text("lr = 0.1\nepochs = 10\n")
    (root / "model.py").write_text("layers = 2\n")
    (root / ".gitignore").write_text("mlflow.db\nmlartifacts/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first model")
    git(root, "config", "autocommit.enabled", "true")
    (root / "train.py").write_text("lr = 0.01\nepochs = 30\nwarmup = 2\n")
    (root / "model.py").write_text("layers = 4\ndropout = 0.1\n")
    (root / "data").mkdir()
    (root / "data" / "prepare.py").write_text("def prepare():\n    return []\n")
    (root / "notes.md").write_text("smaller lr, deeper model\n")


def start_run(root: Path, store: str) -> tuple[str, str]:
    """One MLflow run started in ``root`` (the plugin tags it); (experiment id, run id)."""
    script = (
        "import mlflow\n"
        f"mlflow.set_tracking_uri({store!r})\n"
        "with mlflow.start_run(run_name='deeper-model') as run:\n"
        "    mlflow.log_param('lr', 0.01)\n"
        "    mlflow.log_metric('loss', 0.42)\n"
        "print(run.info.experiment_id, run.info.run_id)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=root, check=True,
                          capture_output=True, text=True)  # fmt: skip
    experiment, run = done.stdout.split()[-2:]
    return experiment, run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def mlflow_server(store: str, artifacts: Path, port: int) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 until the block ends; its URL."""
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store,
               "--artifacts-destination", str(artifacts), "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("mlflow server did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, 15)  # the server and its workers
        server.wait(timeout=30)


def screenshot(url: str, out: Path, height: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--window-size=1400,{height}",
             "--virtual-time-budget=20000", f"--screenshot={out}", url],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip


def main() -> int:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "mlflow-ui-screenshots").absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "project"
        make_repository(root)
        store = f"sqlite:///{root / 'mlflow.db'}"
        experiment, run = start_run(root, store)
        with mlflow_server(store, root / "mlartifacts", free_port()) as url:
            page = f"{url}/#/experiments/{experiment}/runs/{run}"
            screenshot(page, out_dir / "run-page.png", 1400)
    print(out_dir / "run-page.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
