"""``AUTOCOMMIT_*`` variables: each is a setting, a submitted run's or one of the project's
tools'; any other (a typo) is a one-line error, as an unknown key in a file is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autocommit.errors import AutocommitError
from autocommit.settings import config
from autocommit.tracking.run_tags import find_target
from tests.support import PROJECT
from tests.support.cli import one_line_error, run_cli
from tests.support.readme import says


def test_an_unknown_variable_is_a_one_line_error(repo: Path) -> None:
    says("A bad value or an unknown key is a one-line error naming the key and where it was set.")
    done = run_cli(repo, "snapshot", env={"AUTOCOMMIT_BOGUS": "1"})
    error = one_line_error(done.returncode, done.stderr)
    assert "unknown setting AUTOCOMMIT_BOGUS (environment)" in error
    assert "did you mean" not in error and "max_file_size" in error
    assert done.stdout == ""
    says("an `AUTOCOMMIT_*` variable that is no setting (`AUTOCOMMIT_ENABLE=false`) is an "
         "error that names the closest one (`did you mean AUTOCOMMIT_ENABLED?`)")  # fmt: skip
    done = run_cli(repo, "snapshot", env={"AUTOCOMMIT_ENABLE": "false"})
    assert "did you mean AUTOCOMMIT_ENABLED?" in one_line_error(done.returncode, done.stderr)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("AUTOCOMMIT_ENABLE", "AUTOCOMMIT_ENABLED"),
     ("AUTOCOMMIT_MAX_FILESIZE", "AUTOCOMMIT_MAX_FILE_SIZE"),
     ("AUTOCOMMIT_pushonrun", "AUTOCOMMIT_PUSH_ON_RUN")],
)  # fmt: skip
def test_a_near_name_is_suggested(repo: Path, typo: str, meant: str) -> None:
    with pytest.raises(AutocommitError, match=f"did you mean {meant}\\?"):
        config.load(repo, environ={typo: "1"})


def test_every_variable_the_project_names_is_accepted(repo: Path) -> None:
    """The README, ./dev and the benchmarks name variables that are not settings."""
    texts = [PROJECT / "README.md", PROJECT / "dev", *(PROJECT / "benchmarks").glob("*.py")]
    pattern = re.compile(r"\bAUTOCOMMIT_[A-Z0-9_]*[A-Z0-9]\b")
    named = {name for path in texts for name in pattern.findall(path.read_text())}
    assert {"AUTOCOMMIT_VENV", "AUTOCOMMIT_BENCH_SAVES", "AUTOCOMMIT_RUN_COMMIT"} <= named
    named.remove("AUTOCOMMIT_ENABLE")  # the README's example of a typo
    config.load(repo, environ=dict.fromkeys(named, "1"))


def test_a_repository_not_enabled_is_left_alone(repo: Path) -> None:
    """A typo is reported where autocommit works, never to a run it has nothing to do with."""
    says("A run in a repository where autocommit is not enabled never hears of it.")
    script = repo / "train.py"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOCOMMIT_BOGUS", "1")
        assert find_target(script) is None


def test_a_run_in_an_enabled_repository_says_what_is_misspelt(enabled: Path) -> None:
    """The run starts all the same, with the error on it (and no snapshot)."""
    import autocommit

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOCOMMIT_ENABLE", "false")
        tags = autocommit.mlflow_tags(enabled)
    assert "autocommit.commit" not in tags
    assert "did you mean AUTOCOMMIT_ENABLED?" in tags["autocommit.error"]
