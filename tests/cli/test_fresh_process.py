"""What a new ``autocommit`` process costs before it does its work: the command line
imports only the command it runs, and a new process's ``autocommit snapshot`` imports
and runs only what a snapshot needs (one ``git config`` read for the settings and git's
core keys, one ``git diff-files`` started before the engine is imported)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from autocommit.cli.parser import COMMANDS, command_of
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import Worktree, find_worktree
from tests.support.git import age, git, user_state
from tests.support.oracle import assert_exact, expected_tree

# Never needed to parse a command line; the engine and the rest only by the commands
# that use them.
HEAVY = ("mlflow", "watchdog", "git", "psutil", "pathspec")
# Imported only when a snapshot needs them (a walk's threads, a warning's logging, a
# typo's suggestion, a settings file, a file to write through a rename). dataclasses
# (and inspect, ast, dis) took about 10 ms of a new process's CPU with its classes: the
# engine's records are NamedTuples.
NOT_FOR_A_SNAPSHOT = ("concurrent", "logging", "difflib", "tomllib", "tempfile", "dataclasses",
                      "inspect")  # fmt: skip
# What a new `autocommit snapshot` has loaded when it starts git's stat of every file.
LAUNCHER = ("autocommit", "autocommit.cli", "autocommit.engine", "autocommit.engine.scan_ahead",
            "autocommit.errors", "autocommit.gitio", "autocommit.gitio.git",
            "autocommit.state_layout")  # fmt: skip
LAYERS = ("autocommit.engine", "autocommit.daemon", "autocommit.tracking",
          "autocommit.reproduce")  # fmt: skip


def _loaded(
    script: str, cwd: Path, env: dict[str, str] | None = None, when: str = "sorted(sys.modules)"
) -> list[str]:
    """The modules a new Python process running ``script`` imported (it prints nothing);
    ``when``: the list the script kept of them at some earlier point."""
    code = f"{script}\nimport sys, json\nprint(json.dumps({when}))"
    # Without the test run's coverage hook, which imports what a user's process does not.
    plain = {k: v for k, v in (os.environ if env is None else env).items()
             if not k.startswith(("COV_CORE_", "COVERAGE_"))}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, env=plain)  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def _heavy(loaded: list[str], *layers: str) -> list[str]:
    return [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(layers)]


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in COMMANDS)])
def test_a_command_line_imports_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    script = "from autocommit.cli import main\n"
    script += f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
    assert _heavy(_loaded(script, tmp_path), *LAYERS) == []


def test_only_the_command_named_is_imported(tmp_path: Path) -> None:
    script = "from autocommit.cli import main\ntry:\n    main(['-C', '.', 'log', '-h'])\n"
    script += "except SystemExit:\n    pass\n"
    commands = [m for m in _loaded(script, tmp_path) if m.startswith("autocommit.cli.commands.")]
    assert commands == ["autocommit.cli.commands.arguments", "autocommit.cli.commands.log"]


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["snapshot"], "snapshot"),
        (["-C", "snapshot", "log"], "log"),  # a directory named like a command
        (["-Cdir", "-C", "x", "show", "--json"], "show"),
        (["--help", "snapshot"], None),  # the top level's help: every command
        (["--version"], None),
        (["snapshott"], None),  # told with the list of commands
        (["-C"], None),
        ([], None),
    ],
)
def test_the_command_of_a_command_line(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


def _git_logging_to(log: Path, bin_dir: Path) -> dict[str, str]:
    """An environment whose ``git`` records each command line in ``log``, then runs git."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    bin_dir.mkdir()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _settle(repo: Path) -> None:
    """git's config files, as old as they usually are (a config written within the last
    second is read again, in case it changes within its timestamp's granularity)."""
    age(repo / ".git" / "config", Path(os.environ["GIT_CONFIG_GLOBAL"]))


def test_a_new_snapshot_process_runs_and_imports_only_what_it_needs(
    repo: Path, tmp_path: Path
) -> None:
    _settle(repo)
    take_snapshot(find_worktree(repo))  # a full scan that walked: the next one need not
    (repo / "train.py").write_text("lr = 0.2\n")
    log = tmp_path / "git-commands.log"
    env = _git_logging_to(log, tmp_path / "bin")
    script = "from autocommit.cli import main\nassert main(['snapshot']) == 0\n"
    loaded = _loaded(script, repo, env)
    commands = log.read_text().splitlines()
    # Whether a daemon runs is its socket's name (state_layout.py): no client, no socket.
    assert _heavy(loaded, "autocommit.daemon", "autocommit.tracking", "autocommit.reproduce") == []
    assert "socket" not in loaded
    assert [m for m in loaded if m.split(".")[0] in NOT_FOR_A_SNAPSHOT] == []
    configs = [c for c in commands if " config " in f" {c} "]
    # One read for the settings, the core keys and the files git reads that the config
    # names (autocommit.gitio.git_inputs), which the snapshot state fingerprints.
    assert len(configs) == 1, configs
    assert sum(" diff-files " in f" {c} " for c in commands) == 1, commands
    assert " diff-files " in f" {commands[0]} ", "started before anything else"
    assert not any(" ls-files " in f" {c} " for c in commands), "no walk"
    assert_exact(repo, git(repo, "rev-parse", "refs/autocommit/heads/main^{tree}").strip())


def test_git_s_stat_of_every_file_starts_before_the_command_line_is_read(
    repo: Path, tmp_path: Path
) -> None:
    """All a new ``autocommit snapshot`` runs before it starts ``git diff-files`` is the
    launcher: the parser, the engine, typing and pathlib load while git stats the files."""
    _settle(repo)
    take_snapshot(find_worktree(repo))
    (repo / "train.py").write_text("lr = 0.4\n")
    script = (
        "import subprocess, sys\n"
        "at_start = []\n"
        "start = subprocess.Popen.__init__\n"
        "def recording(self, args, *rest, **options):\n"
        "    if 'diff-files' in args and not at_start:\n"
        "        at_start.extend(sorted(sys.modules))\n"
        "    start(self, args, *rest, **options)\n"
        "subprocess.Popen.__init__ = recording\n"
        "from autocommit.cli import main\n"
        "assert main(['snapshot']) == 0\n"
    )
    at_start = _loaded(script, repo, when="at_start")
    assert [m for m in at_start if m.startswith("autocommit")] == sorted(LAUNCHER)
    assert not {"argparse", "typing", "dataclasses", "json"} & set(at_start)


@pytest.mark.parametrize("where", ["top", "subdirectory", "hook variables", "worktree"])
def test_git_s_stat_of_every_file_starts_first_where_the_index_is_plain_to_see(
    repo: Path, tmp_path: Path, where: str
) -> None:
    """In the working tree (or below), with no variable that could move git elsewhere, a
    new ``autocommit snapshot`` starts ``git diff-files`` before anything else; with a
    hook's variables set, or in a linked worktree (a ``.git`` file), after asking git.
    Either way the snapshot is exact and nothing of the user's changes."""
    from tests.support.readme import says

    says("`autocommit snapshot` starts git's `stat` of every file first thing")
    _settle(repo)
    top = repo
    if where == "worktree":
        top = tmp_path / "linked"
        git(repo, "worktree", "add", "-q", "--detach", str(top))
    take_snapshot(find_worktree(top))
    (top / "train.py").write_text("lr = 0.3\n")
    (top / "models").mkdir()
    (top / "models" / "net.py").write_text("layers = 2\n")
    before = user_state(top).git_state
    log = tmp_path / "git-commands.log"
    env = _git_logging_to(log, tmp_path / "bin")
    if where == "hook variables":  # as a git hook runs: git's own variables exported
        env["GIT_INDEX_FILE"] = str(top / ".git" / "index")
    cwd = top / "models" if where == "subdirectory" else top
    done = subprocess.run([sys.executable, "-m", "autocommit", "snapshot"], cwd=cwd,
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    commands = log.read_text().splitlines()
    first = " diff-files " in f" {commands[0]} "
    assert first is (where in ("top", "subdirectory")), commands
    assert sum(" diff-files " in f" {c} " for c in commands) == 1, commands
    printed = done.stdout.strip()
    assert git(top, "rev-parse", f"{printed}^{{tree}}").strip() == expected_tree(top)
    assert user_state(top).git_state == before


def test_a_scan_started_early_for_another_tree_is_ended_unused(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git's answer names another working tree than the guess (or the index changed):
    the process started early is ended, and never read."""
    from autocommit.engine import scan_ahead

    _settle(repo)
    take_snapshot(find_worktree(repo))
    index = repo / ".git" / "autocommit" / "index"
    monkeypatch.chdir(repo)
    with scan_ahead.started():
        early = scan_ahead._early
        assert early is not None and early[0] == str(repo)
        proc = early[3]
        assert scan_ahead.taken(str(tmp_path), str(index), early[2]) is None
        assert proc.poll() is not None  # ended
    with scan_ahead.started():
        early = scan_ahead._early
        assert early is not None
        assert (
            scan_ahead.taken(str(repo), str(index), scan_ahead.index_stat(str(index))) is early[3]
        )
        early[3].communicate()
    with scan_ahead.started():
        left = scan_ahead._early
        assert left is not None
    assert left[3].poll() is not None  # left unused: ended with the block


@pytest.mark.parametrize("pin", [False, True], ids=["snapshot", "pin"])
def test_with_a_daemon_running_a_snapshot_is_the_daemon_s(
    daemon: Worktree, tmp_path: Path, pin: bool
) -> None:
    """The daemon watches the files: ``autocommit snapshot`` asks for its sync barrier
    (exact, with no scan of its own) instead of scanning the tree again beside it."""
    from tests.support.readme import says

    says("With a daemon running, `autocommit snapshot` asks it for its snapshot (its sync "
         "barrier: exact, no scan)")  # fmt: skip
    root = daemon.root
    (root / "train.py").write_text(f"lr = {pin}\n")
    before = user_state(root)
    log = tmp_path / "git-commands.log"
    env = _git_logging_to(log, tmp_path / "bin")
    done = subprocess.run([sys.executable, "-m", "autocommit", "snapshot", "--json",
                           *(["--pin"] if pin else [])], cwd=root, capture_output=True,
                          text=True, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    commands = log.read_text().splitlines() if log.exists() else []
    assert not any(" diff-files " in f" {c} " or " add " in f" {c} " for c in commands)
    assert git(root, "rev-parse", f"{printed['commit']}^{{tree}}").strip() == expected_tree(root)
    assert user_state(root) == before  # the index byte for byte, HEAD, branches, files
    assert not (root / ".git" / "index.lock").exists()
    if pin:
        pinned = f"refs/autocommit/pins/{printed['commit']}"
        assert git(root, "rev-parse", pinned).strip() == printed["commit"]
        assert git(root, "rev-parse", f"{printed['commit']}^@").split() == [printed["head"]]
