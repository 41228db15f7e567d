"""A real local Ray cluster (127.0.0.1, one CPU, started and stopped here), jobs submitted
with ``working_dir`` and ``launch_env()``, their runs in a real ``mlflow server``.

Ray (2.60) uploads ``working_dir`` as a zip: it leaves out what a ``.gitignore`` or
``.rayignore`` at any level names, ``.git``, ``.venv``, ``venv`` and ``__pycache__``
(``RAY_RUNTIME_ENV_DEFAULT_EXCLUDES``), and the runtime env's ``excludes``; it keeps
modes and stores a symlink as the file it points to. The job runs in the unpacked copy,
where no ``.git`` is: the worker's path.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import autocommit
from autocommit.contract import RUN_COMMIT_VAR
from tests.conftest import free_port
from tests.support.mlflow import pinned
from tests.tracking.test_launch import project

pytestmark = pytest.mark.ray
job_submission = pytest.importorskip("ray.job_submission")


@pytest.fixture
def ray_cluster(tmp_path: Path) -> Iterator[str]:
    """``ray start --head`` on 127.0.0.1 with one CPU; its whole process group is stopped
    at the end (``ray stop`` would stop every Ray of the user on this machine)."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths
    dashboard = free_port()
    log = (tmp_path / "ray.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head",
         "--node-ip-address", "127.0.0.1", "--dashboard-host", "127.0.0.1", "--num-cpus", "1",
         "--port", str(free_port()), "--dashboard-port", str(dashboard),
         "--ray-client-server-port", str(free_port()), "--temp-dir", temp,
         "--include-dashboard", "true", "--disable-usage-stats"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        if proc.wait(timeout=300) != 0:
            pytest.fail(f"ray start failed:\n{(tmp_path / 'ray.log').read_text()}")
        url = f"http://127.0.0.1:{dashboard}"
        deadline = time.monotonic() + 120
        while True:
            try:
                job_submission.JobSubmissionClient(url).list_jobs()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        yield url
    finally:
        _stop_group(proc.pid)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _stop_group(pgid: int) -> None:
    for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def submit(cluster: str, repo: Path, env: dict[str, str], tracking: str) -> dict[str, str]:
    """A job running ``train.py`` from ``repo`` uploaded as its working_dir: its run's tags,
    as the tracking server has them."""
    logs = job_logs(cluster, repo, env, tracking, timeout=300)
    tags: dict[str, str] = json.loads(logs.strip().splitlines()[-1])
    return tags


def job_logs(cluster: str, repo: Path, env: dict[str, str], tracking: str, timeout: float) -> str:
    """Submit ``train.py`` from ``repo`` as its working_dir, wait until it succeeded: its logs."""
    client = job_submission.JobSubmissionClient(cluster)
    job = client.submit_job(
        entrypoint=f"{sys.executable} train.py {tracking}",
        runtime_env={"working_dir": str(repo), "env_vars": env},
    )
    deadline = time.monotonic() + timeout
    status = client.get_job_status(job)
    while not status.is_terminal() and time.monotonic() < deadline:
        time.sleep(1)
        status = client.get_job_status(job)
    logs: str = client.get_job_logs(job)
    assert status == job_submission.JobStatus.SUCCEEDED, logs
    return logs


def test_ray_jobs_runs_carry_the_submitted_commit_and_whether_the_files_match(
    repo: Path, ray_cluster: str, server: str
) -> None:
    project(repo)
    env = autocommit.launch_env(repo)
    commit = env[RUN_COMMIT_VAR]
    assert commit in pinned(repo)  # in the user's repository

    tags = submit(ray_cluster, repo, env, server)
    assert tags["autocommit.commit"] == commit
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["autocommit.verified"] == "true", tags.get("autocommit.error")
    assert "autocommit.error" not in tags

    (repo / "src" / "model.py").write_text("layers = 5\n")  # changed after submission
    tags = submit(ray_cluster, repo, env, server)
    assert tags["autocommit.commit"] == commit
    assert tags["autocommit.verified"] == "false"
    assert "src/model.py (content differs)" in tags["autocommit.error"]


TUNE = """\
import json, sys
import mlflow
from ray import tune


def trial(config):
    mlflow.set_tracking_uri(config["uri"])
    with mlflow.start_run() as run:
        mlflow.log_param("lr", config["lr"])
    tags = mlflow.get_run(run.info.run_id).data.tags
    tune.report({"tags": json.dumps(tags)})


grid = {"uri": sys.argv[1], "lr": tune.grid_search([0.1, 0.01])}
results = tune.Tuner(trial, param_space=grid).fit()
print(json.dumps([json.loads(result.metrics["tags"]) for result in results]))
"""


def test_ray_tune_trials_each_carry_the_submitted_commit_verified(
    repo: Path, ray_cluster: str, server: str
) -> None:
    """Trials run in trial directories of their own, with the code on their import path."""
    project(repo)
    (repo / "train.py").write_text(TUNE)
    env = autocommit.launch_env(repo)
    trials = _submit_logs(ray_cluster, repo, env, server)
    assert isinstance(trials, list) and len(trials) == 2
    for tags in trials:
        assert tags["autocommit.commit"] == env[RUN_COMMIT_VAR]
        assert tags["autocommit.verified"] == "true", tags.get("autocommit.error")


def _submit_logs(cluster: str, repo: Path, env: dict[str, str], tracking: str) -> object:
    logs = job_logs(cluster, repo, env, tracking, timeout=400)
    printed = [line for line in logs.splitlines() if line.startswith("[{")]  # Tune logs too
    assert printed, logs
    return json.loads(printed[-1])
