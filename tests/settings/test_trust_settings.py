"""A cloned repository cannot take over: its settings files may set only harmless keys.

The attacks are real: a hostile repository with a committed ``pyproject.toml`` and
``.autocommit.toml``, cloned over ``file://``, whose ``train.py`` starts a real MLflow run
(sqlite store) in a process of its own, as a user running someone else's code would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autocommit.gitio.repo import find_worktree
from autocommit.settings import config
from tests.support.cli import run_cli
from tests.support.git import git, tree_listing

mlflow = pytest.importorskip("mlflow")

TRAIN = """\
import json, mlflow
with mlflow.start_run() as run:
    pass
tags = mlflow.MlflowClient().get_run(run.info.run_id).data.tags
print(json.dumps({k: v for k, v in tags.items() if k.startswith("autocommit.")}))
"""
USER_ONLY = {"enabled", "push_on_run", "remote", "autostart", "secret_patterns", "max_file_size"}


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One sqlite tracking store (creating its tables takes seconds)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('trust-store') / 'mlflow.db'}"
    mlflow.MlflowClient(uri).search_experiments()
    return uri


def hostile_repository(tmp_path: Path, remote: str) -> Path:
    """The attacker's repository: both settings files set every key a user alone may set."""
    evil = tmp_path / "evil"
    evil.mkdir()
    git(evil, "init", "-q")
    keys = (
        f"enabled = true\npush_on_run = true\nremote = {json.dumps(remote)}\n"
        'autostart = true\nsecret_patterns = ["nothing"]\nmax_file_size = "1G"\n'
    )
    (evil / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.autocommit]\n{keys}')
    (evil / ".autocommit.toml").write_text(keys.replace("push_on_run", "push-on-run"))
    (evil / "train.py").write_text(TRAIN)
    git(evil, "add", "-A")
    git(evil, "commit", "-q", "-m", "a model to try")
    return evil


def clone(source: Path, where: Path) -> Path:
    git(where.parent, "clone", "-q", source.as_uri(), str(where))
    return where


def train(clone: Path, store: str, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """``python train.py`` in the clone: the run's autocommit tags, and the warnings."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    done = subprocess.run([sys.executable, "train.py"], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("autocommit:")]
    return json.loads(done.stdout.splitlines()[-1]), warnings


def assert_one_refusal_warning(warnings: list[str]) -> None:
    assert len(warnings) == 1, warnings
    text = warnings[0]
    for key in USER_ONLY:
        assert key in text, (key, text)
    assert "pyproject.toml" in text and ".autocommit.toml" in text
    assert "`git config autocommit.remote <value>`" in text and "`autocommit init`" in text


def no_push_for_a_while(paths: list[Path], seconds: float = 3.0) -> None:
    """A background push would land within seconds: none of ``paths`` appears meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not [p for p in paths if p.exists()], "something ran or was pushed"
        time.sleep(0.1)


def test_a_cloned_repository_cannot_enable_run_or_push(tmp_path: Path, store: str) -> None:
    pwned = tmp_path / "PWNED"
    evil = hostile_repository(tmp_path, f"--receive-pack=touch {pwned}; echo")
    victim = clone(evil, tmp_path / "victim")
    tags, warnings = train(victim, store, tmp_path)
    assert tags == {}, "not enabled: a repository file cannot enable autocommit"
    assert_one_refusal_warning(warnings)
    no_push_for_a_while([pwned, victim / ".git" / "autocommit" / "push.log"])
    assert git(victim, "for-each-ref", "refs/autocommit/") == ""
    assert git(evil, "for-each-ref", "refs/autocommit/") == ""
    assert not (victim / ".git" / "autocommit").exists()
    assert git(victim, "config", "--get", "autocommit.enabled", check=False) == ""


def test_an_enabled_clone_keeps_secrets_and_sends_nothing_to_the_stranger(
    tmp_path: Path, store: str
) -> None:
    attacker = tmp_path / "attacker.git"
    git(tmp_path, "init", "-q", "--bare", str(attacker))
    victim = clone(hostile_repository(tmp_path, str(attacker)), tmp_path / "victim")
    (victim / ".env").write_text("AWS_SECRET_ACCESS_KEY=hunter2\n")
    (victim / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (victim / "big.bin").write_bytes(b"x" * (6 * 1024**2))  # over the user's default cap
    init = run_cli(victim, "init", "--no-daemon", "--no-hooks")
    assert init.returncode == 0, init.stderr
    assert_one_refusal_warning([line for line in init.stderr.splitlines()
                                if "a file in the repository may not set" in line])  # fmt: skip
    tags, warnings = train(victim, store, tmp_path)
    assert_one_refusal_warning(warnings)
    commit = tags["autocommit.commit"]
    captured = tree_listing(victim, commit)
    assert {".env", "id_rsa", "big.bin"}.isdisjoint(captured) and "train.py" in captured
    assert ".env (secret-looking name)" in tags["autocommit.skipped"]
    assert "id_rsa (secret-looking name)" in tags["autocommit.skipped"]
    no_push_for_a_while([victim / ".git" / "autocommit" / "push.log"])
    assert git(attacker, "for-each-ref") == "", "nothing reached the attacker's repository"
    assert run_cli(victim, "status").returncode == 3, "autostart is yours alone too"
    for verb in ("push", "fetch"):  # the remote setting is yours: origin, not the file's
        done = run_cli(victim, verb, "--json")
        assert str(attacker) not in done.stdout + done.stderr
    assert git(attacker, "for-each-ref") == ""
    assert git(attacker, "count-objects").startswith("0 objects")


def test_cli_push_and_fetch_ignore_the_hostile_remote(tmp_path: Path) -> None:
    pwned = tmp_path / "PWNED"
    victim = clone(hostile_repository(tmp_path, f"--upload-pack=touch {pwned}; echo"),
                   tmp_path / "victim")  # fmt: skip
    git(victim, "config", "autocommit.enabled", "true")
    assert run_cli(victim, "snapshot", "--pin").returncode == 0
    for verb in ("push", "fetch"):
        done = run_cli(victim, verb)
        assert "Traceback" not in done.stderr
        assert done.stderr.count("a file in the repository may not set") == 1, done.stderr
    assert not pwned.exists()


def test_repository_files_set_only_the_harmless_keys(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(
        '[tool.autocommit]\nexclude = ["*.csv"]\nquiet_period = "500ms"\nmax_wait = "5s"\n'
        "daemon = false\nhooks = false\noverride_mlflow_commit = false\n"
        'remote = "team"\nmax_file_size = "1G"\n'
    )
    settings = config.load(repo, environ={})
    assert settings.exclude == ("*.csv",) and settings.quiet_period == 0.5
    assert settings.max_wait == 5.0 and not settings.daemon and not settings.hooks
    assert not settings.override_mlflow_commit
    assert settings.remote == "origin" and settings.max_file_size == 5 * 1024**2
    git(repo, "config", "autocommit.remote", "team")  # yours: heard
    assert config.load(repo, environ={}).remote == "team"
    assert config.load(repo, environ={"AUTOCOMMIT_MAX_FILE_SIZE": "1k"}).max_file_size == 1024


def test_the_allow_list_is_closed() -> None:
    """A key added later is the user's alone unless someone lists it on purpose."""
    harmless = {"exclude", "quiet_period", "max_wait", "daemon", "hooks", "override_mlflow_commit",
                "data_paths"}  # fmt: skip
    assert harmless == config.REPOSITORY_KEYS
    assert set(config.KEYS) - config.REPOSITORY_KEYS >= USER_ONLY


def test_the_warning_is_said_once_per_process(repo: Path) -> None:
    (repo / ".autocommit.toml").write_text('remote = "elsewhere"\n')
    done = run_cli(repo, "status")  # reads the settings more than once
    lines = [line for line in done.stderr.splitlines() if "may not set" in line]
    assert lines == [
        "autocommit: ignored remote in .autocommit.toml: a file in the repository may not set "
        "these (only your git config or AUTOCOMMIT_* variables may); to use them, set them "
        "yourself: `git config autocommit.remote <value>`"
    ]


def test_the_settings_last_read_cannot_smuggle_a_users_key(repo: Path) -> None:
    """Saved by an earlier version, which took every key from the files: still not heard."""
    git(repo, "config", "autocommit.enabled", "true")
    worktree = find_worktree(repo)
    (repo / "pyproject.toml").write_text('[tool.autocommit]\nexclude = ["*.csv"]\nremote = "x"\n')
    settings, broken = config.load_or_last_good(worktree)
    assert broken is None and settings.remote == "origin" and settings.exclude == ("*.csv",)
    saved = json.loads((worktree.state_dir / "settings.json").read_text())
    assert set(saved) == {"exclude", "enabled"}, "only what counted is kept"
    saved["remote"] = ["--receive-pack=touch PWNED", "pyproject.toml [tool.autocommit] remote"]
    saved["push_on_run"] = [True, ".autocommit.toml [tool.autocommit] push_on_run"]
    saved["secret_patterns"] = [["nothing"], "pyproject.toml [tool.autocommit] secret_patterns"]
    (worktree.state_dir / "settings.json").write_text(json.dumps(saved))
    (repo / "pyproject.toml").write_text("[tool.autocommit\n")  # being edited: unreadable
    settings, broken = config.load_or_last_good(worktree)
    assert broken is not None and settings.enabled and settings.exclude == ("*.csv",)
    assert settings.remote == "origin" and not settings.push_on_run
    assert settings.secret_patterns == config.DEFAULT_SECRET_PATTERNS


def test_the_daemon_logs_the_warning(tmp_path: Path) -> None:
    victim = clone(hostile_repository(tmp_path, "elsewhere"), tmp_path / "victim")
    git(victim, "config", "autocommit.enabled", "true")  # the user's own choice
    started = run_cli(victim, "start")
    try:
        assert started.returncode == 0, started.stderr
        assert started.stderr.count("a file in the repository may not set") == 1
        log = (victim / ".git" / "autocommit" / "daemon.log").read_text()
        assert log.count("a file in the repository may not set") == 1, log
    finally:
        assert run_cli(victim, "stop").returncode == 0
