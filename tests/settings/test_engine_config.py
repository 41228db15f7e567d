"""Settings: pyproject.toml < .autocommit.toml < git config < environment, and a bad
value anywhere is a one-line error naming the setting and where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from autocommit.errors import AutocommitError
from autocommit.settings import config
from autocommit.settings.config import DEFAULT_SECRET_PATTERNS, Settings
from tests.support import PROJECT
from tests.support.cli import run_cli
from tests.support.git import git


def test_defaults(repo: Path) -> None:
    assert config.load(repo, environ={}) == Settings()
    assert Settings().max_file_size == 5 * 1024**2
    assert Settings().secret_patterns == DEFAULT_SECRET_PATTERNS


def test_each_source_overrides_the_one_before(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.autocommit]\nmax_wait = "1s"\n'
        'exclude = ["*.csv"]\nquiet_period = "500ms"\n'
    )
    assert config.load(repo, environ={}).max_wait == 1.0
    (repo / ".autocommit.toml").write_text('max-wait = "2s"\nexclude = ["*.tsv"]\n')
    settings = config.load(repo, environ={})
    assert settings.max_wait == 2.0 and settings.exclude == ("*.tsv",)
    assert settings.quiet_period == 0.5  # kept from pyproject
    git(repo, "config", "autocommit.maxWait", "3s")
    git(repo, "config", "autocommit.exclude", "*.parquet, data/")
    git(repo, "config", "autocommit.maxFileSize", "3k")
    settings = config.load(repo, environ={})
    assert settings.max_wait == 3.0 and settings.exclude == ("*.parquet", "data/")
    assert settings.max_file_size == 3072
    environ = {"AUTOCOMMIT_MAX_FILE_SIZE": "4KiB", "AUTOCOMMIT_PUSH_ON_RUN": "yes"}
    settings = config.load(repo, environ=environ)
    assert settings.max_file_size == 4096 and settings.push_on_run is True
    assert settings.exclude == ("*.parquet", "data/")


def test_autocommit_toml_may_use_a_tool_table(repo: Path) -> None:
    (repo / ".autocommit.toml").write_text(
        '[tool.autocommit]\nexclude = ["*.token"]\nmax_wait = 5\n'
    )
    settings = config.load(repo, environ={})
    assert settings.exclude == ("*.token",) and settings.max_wait == 5.0


def test_settings_change_what_a_snapshot_leaves_out(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[tool.autocommit]\nexclude = ["*.csv"]\n')
    (repo / "table.csv").write_text("a,b\n")
    (repo / "deploy.token").write_text("t\n")
    done = run_cli(repo, "snapshot", env={"AUTOCOMMIT_SECRET_PATTERNS": "*.token"})
    assert done.returncode == 0, done.stderr
    assert "left out deploy.token (secret-looking name)" in done.stderr
    assert "left out table.csv (excluded by configuration)" in done.stderr
    tree = git(repo, "ls-tree", "--name-only", done.stdout.strip())
    assert "table.csv" not in tree and "deploy.token" not in tree and "pyproject.toml" in tree


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("env", "bad value for max_file_size (environment AUTOCOMMIT_MAX_FILE_SIZE)"),
        ("git", "bad value for daemon (git config autocommit.daemon)"),
        ("pyproject", "bad value for quiet_period (pyproject.toml [tool.autocommit]"),
        ("unknown", "unknown setting 'max_files' (.autocommit.toml"),
        ("syntax", "cannot read"),
    ],
)
def test_bad_values_are_one_line_errors(repo: Path, source: str, needle: str) -> None:
    env = {}
    if source == "env":
        env["AUTOCOMMIT_MAX_FILE_SIZE"] = "lots"
    elif source == "git":
        git(repo, "config", "autocommit.daemon", "maybe")
    elif source == "pyproject":
        (repo / "pyproject.toml").write_text('[tool.autocommit]\nquiet_period = "soon"\n')
    elif source == "unknown":
        (repo / ".autocommit.toml").write_text("max_files = 3\n")
    else:
        (repo / ".autocommit.toml").write_text("max_file_size = = 3\n")
    with pytest.raises(AutocommitError) as error:
        config.load(repo, environ=env)
    assert needle in str(error.value) and "\n" not in str(error.value)
    done = run_cli(repo, "snapshot", env=env)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.startswith("autocommit: error: ") and done.stderr.count("\n") == 1
    assert needle in done.stderr


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1024**2),
        ("5MiB", 5 * 1024**2),
        ("500k", 512000),
        ("1.5 GB", int(1.5 * 1024**3)),
        ("0", 0),
    ],
)
def test_size_syntax(text: str, size: int) -> None:
    assert config.parse_size(text) == size


@pytest.mark.parametrize(("text", "seconds"), [("300ms", 0.3), ("2s", 2.0), ("1.5", 1.5),
                                               ("30d", 30 * 86400.0), ("2m", 120.0)])  # fmt: skip
def test_duration_syntax(text: str, seconds: float) -> None:
    assert config.parse_duration(text) == pytest.approx(seconds)


def test_every_setting_is_documented_with_its_default() -> None:
    doc = (PROJECT / "README.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in doc.splitlines()
            if line.startswith("| `")}  # fmt: skip
    missing = [key for key in config.KEYS if key not in rows]
    assert missing == [], f"add these settings to the README's table: {missing}"
    for pattern in DEFAULT_SECRET_PATTERNS:
        assert f"`{pattern}`" in rows["secret_patterns"]


def test_the_readme_says_which_settings_a_repository_file_may_set() -> None:
    doc = (PROJECT / "README.md").read_text()
    section = doc.split("### Configuration\n", 1)[1].split("\n### ", 1)[0]
    lines = section.splitlines()
    header = next(line for line in lines if line.startswith("| key |"))
    assert header.rstrip(" |").endswith("repository file"), header
    said = {line.split("|")[1].strip(" `"): line.rstrip(" |").rsplit("|", 1)[1].strip()
            for line in lines if line.startswith("| `")}  # fmt: skip
    assert said == {key: "yes" if key in config.REPOSITORY_KEYS else "no" for key in config.KEYS}
    listed = doc.split("## Security\n", 1)[1].split("\n| your git config", 1)[0]
    for key in config.REPOSITORY_KEYS:
        assert f"`{key}`" in listed, f"the README's Security section omits {key}"
