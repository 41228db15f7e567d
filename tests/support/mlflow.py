"""Helpers for the MLflow plugin tests: random user edits, run commits, pins, the CLI."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cli import run_cli
from tests.support.git import git


@dataclass(frozen=True)
class Tracking:
    """What the ``tracking`` fixture gives: a tracking store of the test's own."""

    client: Any  # an MlflowClient of the store
    experiment_id: str  # the test's experiment, the active one


def daemon_available() -> bool:
    from autocommit.cli import parser as cli

    return {"start", "stop"} <= set(cli.COMMANDS)


@contextlib.contextmanager
def running_daemon(root: Path) -> Iterator[None]:
    """The real watch daemon, started and stopped through the CLI."""
    started = run_cli(root, "start")
    assert started.returncode == 0, started.stderr
    try:
        yield
    finally:
        stopped = run_cli(root, "stop")
        assert stopped.returncode == 0, stopped.stderr


def start_run() -> tuple[str, str]:
    """A plain ``mlflow.start_run()``: the plugin tags it. Returns (run id, commit)."""
    import mlflow

    with mlflow.start_run() as run:
        tags = mlflow.MlflowClient().get_run(run.info.run_id).data.tags
    assert "autocommit.error" not in tags, tags["autocommit.error"]
    return run.info.run_id, tags["autocommit.commit"]


def tree_of(root: Path, commit: str) -> str:
    return git(root, "rev-parse", f"{commit}^{{tree}}").strip()


def assert_run_commit(root: Path, commit: str, snapshot: str) -> None:
    """``commit`` is the run commit of the chain snapshot ``snapshot``: the same tree on top
    of HEAD alone, naming the snapshot in its ``Autocommit-Snapshot`` trailer (or the
    snapshot itself, when HEAD already is its only parent)."""
    head = git(root, "rev-parse", "HEAD").strip()
    assert tree_of(root, commit) == tree_of(root, snapshot)
    assert git(root, "rev-parse", f"{commit}^@").split() == [head]
    trailer = git(root, "log", "-1", "--format=%(trailers:key=Autocommit-Snapshot,valueonly)",
                  commit).strip()  # fmt: skip
    assert trailer == ("" if commit == snapshot else snapshot)


def pinned(root: Path) -> set[str]:
    text = git(root, "for-each-ref", "--format=%(refname)", "refs/autocommit/pins/")
    return {line.rsplit("/", 1)[1] for line in text.splitlines() if line}


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        found.extend(Path(dirpath, name) for name in sorted(filenames))
    return found


EDIT_KINDS = {
    "modify", "same-size", "create", "delete", "rename", "rename-dir", "chmod", "symlink",
    "retarget", "file-to-dir", "gitignore", "stage", "commit", "commit-all",
}  # fmt: skip


def random_edit(root: Path, rng: random.Random, step: int) -> str:
    """One user action on the working tree (or the index); returns what it did."""
    files = _files(root)
    regular = [f for f in files if not f.is_symlink()]
    kind = rng.choice(
        ["modify", "modify", "same-size", "create", "create", "delete", "rename", "rename-dir",
         "chmod", "symlink", "retarget", "file-to-dir", "gitignore", "stage", "commit",
         "commit-all"]
    )  # fmt: skip
    if kind in ("modify", "same-size", "delete", "rename", "chmod", "file-to-dir") and (
        len(regular) < 3
    ):
        kind = "create"
    if kind == "modify":
        target = rng.choice(regular)
        target.write_text(target.read_text(errors="replace") + f"step {step}\n")
    elif kind == "same-size":  # same size, same second: git's racy-clean case
        target = rng.choice(regular)
        data = target.read_bytes() or b"x"
        target.write_bytes(bytes([(data[0] + 1) % 26 + 97]) + data[1:])
    elif kind == "create":
        where = root / rng.choice(["", "src", "src/models", "data", "new dir"])
        where.mkdir(parents=True, exist_ok=True)
        target = where / f"file{step}.{rng.choice(['py', 'txt', 'cfg'])}"
        target.write_text(f"created at step {step}\n")
    elif kind == "delete":
        target = rng.choice(regular)
        target.unlink()
    elif kind == "rename":
        target = rng.choice(regular)
        dest = target.with_name(f"renamed{step}_{target.name}")
        target.rename(dest)
    elif kind == "rename-dir":
        dirs = sorted({f.parent for f in files if f.parent != root})
        if not dirs:
            return random_edit(root, rng, step)
        target = rng.choice(dirs)
        target.rename(target.with_name(f"{target.name}_r{step}"))
    elif kind == "chmod":
        target = rng.choice(regular)
        target.chmod(target.stat().st_mode ^ 0o111)
    elif kind == "symlink":
        target = root / f"link{step}"
        target.symlink_to(rng.choice(regular).relative_to(root))
    elif kind == "retarget":
        links = [f for f in files if f.is_symlink()]
        if not links:
            return random_edit(root, rng, step)
        target = rng.choice(links)
        target.unlink()
        target.symlink_to(f"elsewhere{step}")
    elif kind == "file-to-dir":
        target = rng.choice(regular)
        target.unlink()
        target.mkdir()
        (target / "inside.py").write_text(f"was a file until step {step}\n")
    elif kind == "gitignore":
        target = root / ".gitignore"
        if target.is_dir():  # an earlier file-to-dir step took the name
            return random_edit(root, rng, step)
        with target.open("a") as stream:
            stream.write(f"*.{rng.choice(['cfg', 'log', 'tmp'])}\n")
    elif kind == "stage":
        target = rng.choice(files) if files else root
        git(root, "add", "-A", "--", str(target.relative_to(root)) if files else ".")
    elif kind == "commit":
        git(root, "commit", "-q", "--allow-empty", "-am", f"step {step}")
        target = root
    else:  # commit everything: a clean tree, whose snapshot is HEAD itself
        git(root, "add", "-A")
        git(root, "commit", "-q", "--allow-empty", "-m", f"all at step {step}")
        target = root
    return f"{kind} {target.relative_to(root) if target != root else '.'}"
