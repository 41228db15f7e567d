"""A run's context read back: its environment, session, data fingerprints, dependencies.

The run's ``autocommit.context`` tag names the commit (README "What exactly ran"); the
tag is text anyone with access to the tracking store could have written, so only a
commit id is taken, and only a commit whose parent is the run's own commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autocommit import contract
from autocommit.errors import AutocommitError
from autocommit.gitio import git
from autocommit.gitio.repo import Worktree
from autocommit.reproduce.resolve import Resolved


@dataclass(frozen=True)
class Context:
    commit: str
    present: bool  # False: the commit is not in this repository (fetch it)
    environment: list[str] = field(default_factory=list)  # the lines of environment.txt
    session: str | None = None  # session.py, when the run started in IPython or the REPL
    data: list[dict[str, Any]] = field(default_factory=list)
    dependencies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def session_cells(self) -> int:
        if self.session is None:
            return 0
        return sum(1 for line in self.session.splitlines() if line.startswith("# In["))


def read_context(worktree: Worktree, resolved: Resolved) -> Context | None:
    """The context of the run ``resolved`` names; None for a revision, or a run without one."""
    commit = resolved.run_tags.get(contract.CONTEXT_TAG, "")
    if not contract.OBJECT_ID.fullmatch(commit):
        return None
    parents = git.run(["show", "-s", "--format=%P", "--end-of-options", commit],
                      worktree.root, check=False)  # fmt: skip
    if parents.returncode != 0:
        return Context(commit, present=False)
    if parents.stdout.decode().split() != [resolved.commit]:
        return None  # not the context of this run's code
    return Context(
        commit,
        present=True,
        environment=(_file(worktree, commit, contract.CONTEXT_ENVIRONMENT) or "").splitlines(),
        session=_file(worktree, commit, contract.CONTEXT_SESSION),
        data=_json_list(_file(worktree, commit, contract.CONTEXT_DATA)),
        dependencies=_json_list(_file(worktree, commit, contract.CONTEXT_DEPENDENCIES)),
    )


def _file(worktree: Worktree, commit: str, name: str) -> str | None:
    proc = git.run(["cat-file", "blob", f"{commit}:{name}"], worktree.root, check=False)
    return proc.stdout.decode(errors="replace") if proc.returncode == 0 else None


def _json_list(text: str | None) -> list[dict[str, Any]]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def data_differences(a: Context, b: Context) -> list[str]:
    """The data files whose fingerprints differ between two contexts, with how."""
    old = {str(e.get("path")): e for e in a.data}
    new = {str(e.get("path")): e for e in b.data}
    lines: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            lines.append(f"  D  {path}")
        elif path not in old:
            lines.append(f"  A  {path}")
        elif _comparable(old[path], new[path]) != _comparable(new[path], old[path]):
            lines.append(f"  M  {path}")
    return lines


def _comparable(entry: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``entry`` without its id and what its fingerprint is when either side has no id
    (a hash still pending, a file over the hash limit): size and time are compared then."""
    if entry.get("blob") and other.get("blob"):
        return entry
    return {key: value for key, value in entry.items() if key not in ("blob", "fingerprint")}


def context_dir(directory: Path) -> Path:
    """Where ``autocommit checkout`` puts a run's context: ``<DIR>.context`` beside DIR."""
    return directory.with_name(directory.name + ".context")


def checkout_context(context: Context, directory: Path) -> list[str]:
    """Write ``context``'s files into ``directory`` (new) and check out each enabled
    dependency's pinned commit into ``directory/<its folder name>``; what could not be
    done, one line each."""
    from autocommit.gitio.repo import find_worktree
    from autocommit.reproduce.restore import checkout

    try:
        directory.mkdir(parents=True)
    except FileExistsError:
        return [f"{directory} already exists: the context was not written"]
    files = {
        contract.CONTEXT_ENVIRONMENT: "".join(line + "\n" for line in context.environment),
        contract.CONTEXT_SESSION: context.session,
        contract.CONTEXT_DATA: json.dumps(context.data, indent=1) + "\n",
        contract.CONTEXT_DEPENDENCIES: json.dumps(context.dependencies, indent=1) + "\n",
    }
    for name, text in files.items():
        if text is not None:
            (directory / name).write_text(text, encoding="utf-8")
    missing: list[str] = []
    for dep in context.dependencies:
        path, commit = Path(str(dep.get("path"))), str(dep.get("commit") or "")
        name = path.name
        if not contract.OBJECT_ID.fullmatch(commit):
            missing.append(f"{path}: not enabled when the run started, HEAD {dep.get('head')}")
        elif not name or name.startswith(".") or name in files:
            missing.append(f"{path}: no usable folder name")
        else:
            try:
                checkout(find_worktree(path), commit, directory / name)
            except AutocommitError as exc:
                missing.append(f"{path}: {exc.one_line()}")
    return missing
