"""No value is ever read as an option: every CLI verb and every setting that reaches git,
given a value starting with ``-``, runs nothing (a sentinel file is never created) and
ends in a one-line error or in handling the value as the name it is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autocommit.gitio import refs
from autocommit.gitio.commits import commit_text
from tests.support.cli import main_in_process, run_cli
from tests.support.daemon import enable
from tests.support.git import git
from tests.support.mlflow import Tracking

mlflow = pytest.importorskip("mlflow")


SENTINEL = "PWNED"
MISSING = "0123456789abcdef0123456789abcdef01234567"  # a commit nobody has


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / SENTINEL
    yield path
    assert not path.exists(), "a value was read as an option and ran something"


@pytest.fixture
def shared(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``repo`` enabled, with a pinned snapshot and a bare ``origin``."""
    enable(repo)
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "origin.git"))
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    (repo / "train.py").write_text("lr = 0.2\n")
    monkeypatch.chdir(repo)
    assert main_in_process("snapshot", "--pin")[0] == 0
    return repo


def hostile_values(sentinel: Path) -> list[str]:
    return [f"--output={sentinel}", f"--upload-pack=touch {sentinel}; echo",
            f"--receive-pack=touch {sentinel}; echo", f"--exec=touch {sentinel}"]  # fmt: skip


def outcome(*args: str) -> tuple[int, str, str]:
    """The CLI in this process; argparse's own usage errors count as errors too."""
    try:
        return main_in_process(*args)
    except SystemExit as exit:  # argparse: `error: unrecognized arguments` and usage
        return int(exit.code or 0), "", ""


def assert_refused(code: int, err: str) -> None:
    assert code != 0
    if code != 2:  # argparse refused it itself (usage line + error line)
        assert err.count("\n") == 1 and err.startswith("autocommit: error: "), err


VERBS: list[tuple[str, ...]] = [
    ("show", "--", "{value}"),
    ("show", "--json", "--", "{value}"),
    ("restore", "--", "{value}"),
    ("checkout", "--", "{value}"),
    ("diff", "--", "{value}", "HEAD"),
    ("diff", "HEAD", "--", "{value}"),
    ("push", "--", "{value}"),
    ("push", "{value}"),
    ("push", "--pin={value}"),
    ("fetch", "--", "{value}"),
    ("fetch", "--shadow", "--", "{value}"),
    ("prune", "--older-than={value}"),
    ("runs", "--experiment={value}"),
    ("-C", "{value}", "status"),
]


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v).replace("{value}", "V"))
def test_cli_arguments_are_never_options(shared: Path, sentinel: Path, verb: tuple[str, ...],
                                         tracking: Tracking) -> None:  # fmt: skip
    for value in hostile_values(sentinel):
        code, _, err = outcome(*(word.replace("{value}", value) for word in verb))
        assert_refused(code, err)
        assert not sentinel.exists(), (verb, value)


NAMES: list[tuple[str, ...]] = [
    ("log", "--branch={value}"),
    ("hook", "post-checkout", "{value}", "{value}", "1"),
    ("prune", "--dry-run", "--tracking-uri={value}"),
]


@pytest.mark.parametrize("verb", NAMES, ids=lambda v: v[0])
def test_values_that_are_only_names_are_handled_as_names(
    shared: Path, sentinel: Path, verb: tuple[str, ...]
) -> None:
    for value in hostile_values(sentinel):
        code, _, err = outcome(*(word.replace("{value}", value) for word in verb))
        assert code == 0, err
        assert not sentinel.exists()


def test_checkout_into_a_directory_named_like_an_option(shared: Path) -> None:
    code, out, err = outcome("checkout", "HEAD", "--", "-wt")
    assert code == 0, err
    assert Path(out.strip()) == shared / "-wt" and (shared / "-wt" / "train.py").is_file()


@pytest.mark.parametrize("source", ["git config", "environment"])
@pytest.mark.parametrize("verb", ["push", "fetch"])
def test_a_remote_setting_is_never_an_option(shared: Path, sentinel: Path, source: str,
                                             verb: str, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:  # fmt: skip
    for value in hostile_values(sentinel):
        if source == "git config":
            git(shared, "config", "autocommit.remote", value)
        else:
            monkeypatch.setenv("AUTOCOMMIT_REMOTE", value)
        code, _, err = outcome(verb)
        assert "starts with '-'" in err
        assert_refused(code, err)


def test_a_run_tag_is_never_an_option(shared: Path, sentinel: Path, tracking: Tracking) -> None:
    experiment = tracking.experiment_id
    for value in [*hostile_values(sentinel), MISSING]:
        run = tracking.client.create_run(experiment, tags={"autocommit.commit": value})
        run_id = run.info.run_id
        git(shared, "config", "autocommit.remote", f"--upload-pack=touch {sentinel}; echo")
        for verb in (("show", run_id), ("checkout", run_id), ("restore", run_id),
                     ("diff", run_id, "HEAD")):  # fmt: skip
            code, _, err = outcome(*verb)
            assert_refused(code, err)
            assert not sentinel.exists(), (verb, value)


def test_push_on_run_with_a_hostile_remote_runs_nothing(
    shared: Path, sentinel: Path, tracking: Tracking
) -> None:
    git(shared, "config", "autocommit.pushonrun", "true")
    git(shared, "config", "autocommit.remote", f"--receive-pack=touch {sentinel}; echo")
    (shared / "train.py").write_text("lr = 0.9\n")
    with mlflow.start_run() as run:
        pass
    assert "autocommit.commit" in tracking.client.get_run(run.info.run_id).data.tags
    log = shared / ".git" / "autocommit" / "push.log"
    deadline = time.monotonic() + 60
    while "starts with '-'" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the background push never reported"
        time.sleep(0.1)
    assert "Traceback" not in log.read_text()


def hostile_snapshot(root: Path, sentinel: Path) -> str:
    """A snapshot as a teammate's fetched shadow branch could hold: its trailers lie."""
    head = git(root, "rev-parse", "HEAD").strip()
    tree = git(root, "rev-parse", "HEAD^{tree}").strip()
    who = f"Mallory <m@example.com> {int(time.time())} +0000"
    message = (f"autocommit: 1 file\n\nAutocommit-Head: --output={sentinel}\n"
               f"Autocommit-Snapshot: --output={sentinel}\n")  # fmt: skip
    text = commit_text(tree, [head], who, who, message)
    sha = git(root, "hash-object", "-t", "commit", "-w", "--stdin", input=text).strip()
    refs.compare_and_swap(root, "refs/autocommit/remotes/team/heads/main", sha, None, "test")
    return sha


def test_commit_trailers_are_never_options(shared: Path, sentinel: Path) -> None:
    sha = hostile_snapshot(shared, sentinel)
    for verb in (("show", sha), ("show", "--json", sha), ("diff", sha, "HEAD"),
                 ("prune", "--older-than=0")):  # fmt: skip
        code, _, err = outcome(*verb)
        assert code == 0 or err.count("\n") == 1, err
        assert not sentinel.exists(), verb
    assert run_cli(shared, "show", sha).stderr.count("Traceback") == 0


def test_a_path_that_starts_with_a_dash_is_reached_as_dot_slash(shared: Path) -> None:
    git(shared, "init", "-q", "--bare", "./-dashed.git")
    code, _, err = outcome("push", "--", "-dashed.git")
    assert "starts with '-'" in err and code == 1
    code, _, err = outcome("push", "./-dashed.git")
    assert code == 0, err
    assert "refs/autocommit/pins/" in git(shared / "-dashed.git", "for-each-ref")
