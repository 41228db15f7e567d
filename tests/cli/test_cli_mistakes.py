"""Every verb with the mistakes a new user makes: one line on stderr that names the
problem and what to do, a non-zero exit, no traceback, and no file created anywhere.

Each row runs the real CLI in a subprocess (so a traceback would show on stderr) in one
of a few places: outside any repository, in a repository without commits, or in a
repository with a commit next to a real MLflow store holding one run. The rows for a
machine without MLflow run in a fresh virtualenv that has the built wheel installed
without the mlflow extra.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from autocommit import cli
from autocommit.cli import parser
from tests.support import PROJECT
from tests.support.git import git
from tests.support.readme import says

UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"
VERBS_IN_A_REPOSITORY = [
    ["init"], ["snapshot"], ["log"], ["show", "HEAD"], ["diff", "HEAD", "HEAD"],
    ["checkout", "HEAD"], ["restore", "HEAD"], ["prune"], ["push"], ["fetch"], ["start"],
    ["stop"], ["status"], ["run", "--foreground"], ["systemd-unit"], ["install-hooks"],
    ["uninstall-hooks"], ["disable"], ["maintain"],
]  # fmt: skip
RUN_VERBS = [["show"], ["diff", "HEAD"], ["checkout"], ["restore"]]  # a run id goes second
NOT_A_REPOSITORY = "not a git repository"
BARE = "is a bare repository, which has no working tree to snapshot; run autocommit in a clone"
BAD_URIS = [
    ("bogus://foo", "MLflow cannot use the tracking URI 'bogus://foo'"),
    ("file:///nowhere/mlruns", "no MLflow file store at /nowhere/mlruns"),
    ("sqlite:///{tmp}/typo.db", "no MLflow database at {tmp}/typo.db"),
]


@dataclass(frozen=True)
class Case:
    where: str  # outside, empty (no commits), repo (a commit, a store with a run)
    args: list[str]
    expected: str  # a part of the one line
    bare: bool = False  # in the virtualenv without MLflow

    @property
    def id(self) -> str:
        return f"{self.where}{'-no-mlflow' if self.bare else ''}:{' '.join(self.args)}"


def with_run(verb: list[str], run: str) -> list[str]:
    return [verb[0], run, *verb[1:]]


CASES = [
    *(Case("outside", verb, NOT_A_REPOSITORY) for verb in VERBS_IN_A_REPOSITORY),
    Case("outside", ["runs"], "no MLflow database at {cwd}/mlflow.db"),
    *(
        Case("empty", with_run(verb, "HEAD"), "this repository has no commits yet")
        for verb in RUN_VERBS
    ),
    Case("empty", ["push"], "no git remote named 'origin'"),
    Case("empty", ["systemd-unit"], "autocommit is not enabled"),
    Case("repo", ["fetch", "/nowhere.git"], "'/nowhere.git' does not appear to be a git repo"),
    Case("outside", ["exec", "--", "true"], NOT_A_REPOSITORY),
    Case("repo-not-enabled", ["exec", "--", "true"], "not in a repository where autocommit is"),
    *(Case("bare", verb, BARE) for verb in [*VERBS_IN_A_REPOSITORY, ["exec", "--", "true"]]),
    Case("repo", ["exec"], "no command to run"),
    *(
        Case("repo", with_run(verb, UNKNOWN_RUN), f"no MLflow run {UNKNOWN_RUN}")
        for verb in RUN_VERBS
    ),
    *(
        Case("repo", with_run(verb, "abc"), "neither a git revision here nor an MLflow run id")
        for verb in RUN_VERBS
    ),
    *(Case("repo", with_run(verb, "abcd1234"), "no MLflow run abcd1234") for verb in RUN_VERBS),
    *(
        Case("repo", [*with_run(verb, "abcd1234"), "--tracking-uri", uri], message)
        for verb in RUN_VERBS
        for uri, message in BAD_URIS
    ),
    *(Case("repo", ["runs", "--tracking-uri", uri], message) for uri, message in BAD_URIS),
    Case(
        "repo",
        ["prune", "--unpin-deleted-runs", "--tracking-uri", "bogus://foo"],
        "MLflow cannot use the tracking URI",
    ),
    *(
        Case("repo", args, "is not a number from 1 up")
        for args in (
            ["log", "-n", "0"],
            ["log", "-n", "-1"],
            ["log", "-n", "x"],
            ["runs", "-n", "0"],
            ["runs", "--max-count=-5"],
        )
    ),
    *(
        Case("repo", ["-C", directory, *verb], f"cannot change to '{directory}'")
        for directory in ("/missing", "train.py")
        for verb in (["status"], ["log"], ["show", "HEAD"])
    ),
    Case("repo", ["-C", "..", "-C", "missing", "log"], "cannot change to 'missing'"),
    *(
        Case("repo", with_run(verb, "abcd1234"), "MLflow is not installed", bare=True)
        for verb in RUN_VERBS
    ),
    Case("repo", ["runs"], "MLflow is not installed", bare=True),
    Case("repo", ["prune", "--unpin-deleted-runs"], "MLflow is not installed", bare=True),
    Case("repo", ["show", "frob"], "neither a git revision", bare=True),
    Case("repo", ["nosuchverb"], "invalid choice: 'nosuchverb'"),
    Case("repo", ["show"], "the following arguments are required: RUN_ID|REV"),
]


def listing(*roots: Path) -> set[str]:
    """Every file and directory under ``roots`` (a new one anywhere shows up here)."""
    found: set[str] = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            found.update(os.path.join(dirpath, name) for name in dirnames + filenames)
    return found


@pytest.fixture(scope="session")
def store_with_a_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sqlite tracking store holding one run (made once: MLflow's migrations are slow)."""
    mlflow = pytest.importorskip("mlflow")
    where = tmp_path_factory.mktemp("store")
    client = mlflow.MlflowClient(f"sqlite:///{where / 'mlflow.db'}")
    experiment = client.create_experiment("mistakes", (where / "artifacts").as_uri())
    client.create_run(experiment)
    return where / "mlflow.db"


@pytest.fixture
def places(tmp_path: Path, repo: Path) -> dict[str, Path]:
    """The places rows run in; ``repo`` is enabled."""
    outside = tmp_path / "outside"
    outside.mkdir()
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    not_enabled = tmp_path / "not-enabled"
    git(tmp_path, "clone", "-q", str(repo), str(not_enabled))
    git(repo, "config", "autocommit.enabled", "true")
    return {"outside": outside, "empty": empty, "repo": repo, "bare": bare,
            "repo-not-enabled": not_enabled}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_mistake_is_one_line_and_changes_nothing(
    case: Case,
    places: dict[str, Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cwd = places[case.where]
    if case.where == "repo":  # a store that exists, and knows no run UNKNOWN_RUN
        store = tmp_path / "mlflow.db"
        shutil.copyfile(request.getfixturevalue("store_with_a_run"), store)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    args = [a.format(tmp=tmp_path) for a in case.args]
    bare_python = request.getfixturevalue("bare_venv") if case.bare else None
    before = listing(tmp_path, Path.home())
    if bare_python is not None:
        code, err = run_without_mlflow(bare_python, cwd, args)
    else:
        code, err = run_here(cwd, args, monkeypatch)
    assert code != 0, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("autocommit") and ": error: " in line, line
    assert case.expected.format(tmp=tmp_path, cwd=cwd) in line, line
    assert "; " in line.split(": error: ", 1)[1], f"no advice on what to do: {line}"
    assert listing(tmp_path, Path.home()) == before


def run_here(cwd: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """The real CLI in this process (MLflow is imported once for all rows): an exception
    it lets out fails the test as a traceback would."""
    import mlflow

    mlflow.set_tracking_uri(None)  # as in a new process: MLFLOW_TRACKING_URI, else the default
    monkeypatch.chdir(cwd)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = cli.main(args)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


def run_without_mlflow(python: Path, cwd: Path, args: list[str]) -> tuple[int, str]:
    """The CLI installed from the wheel in a virtualenv that has no MLflow."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(python), "-m", "autocommit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    return done.returncode, done.stderr


def test_every_verb_is_in_the_table() -> None:
    """A new verb gets its rows here too."""
    covered = {c.args[0] for c in CASES if c.args[0] != "-C"} | {"hook"}  # hook never fails
    assert set(parser.COMMANDS) <= covered, set(parser.COMMANDS) - covered


def test_the_hook_verb_never_fails_outside_a_repository(tmp_path: Path) -> None:
    """What git hooks call must not fail a git command: it says nothing and exits 0."""
    done = subprocess.run([sys.executable, "-m", "autocommit", "hook", "post-commit"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert listing(tmp_path) == set()


@pytest.mark.parametrize("verb", parser.COMMANDS)
def test_every_verb_has_help_and_a_row_in_the_readme(verb: str) -> None:
    err, out = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        pytest.raises(SystemExit) as done,
    ):
        cli.main([verb, "--help"])
    assert done.value.code == 0 and f"usage: autocommit {verb}" in out.getvalue(), err
    readme = (PROJECT / "README.md").read_text()
    table = readme.split("The commands, at a glance", 1)[1].split("\n\n", 2)[1]
    assert f"`{verb}" in table or f"/ `{verb}" in table, f"{verb} is not in the README table"


def test_dash_c_is_repeatable_each_relative_to_the_one_before(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo.parent.parent)
    assert cli.main(["-C", repo.parent.name, "-C", "", "-C", repo.name, "log"]) == 0
    assert "no snapshots on refs/autocommit/heads/main" in capsys.readouterr().out
    assert Path.cwd() == repo.parent.parent  # main() is called in-process: cwd comes back


def test_a_bare_repository_is_refused_as_the_readme_says(tmp_path: Path) -> None:
    says("Refused with one line: a bare repository (`… is a bare repository …; run "
         "autocommit in a clone or `git worktree add` of it`)")  # fmt: skip
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    done = subprocess.run([sys.executable, "-m", "autocommit", "status"], cwd=bare,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1 and "not a git repository" not in done.stderr
    assert done.stderr == (
        f"autocommit: error: {bare} is a bare repository, which has no working tree to "
        "snapshot; run autocommit in a clone or `git worktree add` of it\n"
    )
