"""``dependencies.json`` of a run's context: the other working trees its code came from.

``pip install -e ../mylib`` (or a path on ``sys.path``) makes a run import code from
another git working tree, whose uncommitted edits are part of what ran. Every module
loaded from a file outside the Python installation, autocommit's own package and the
run's repository names the working tree holding it; each is listed with its path, remote
URL (without credentials), HEAD and dirty flag. Where autocommit is enabled there, its exact working
tree gets a pinned run commit, made exactly as the run's own (the daemon's sync barrier
or an in-process snapshot); where it is not, nothing is written into it and the run gets
one warning saying how to enable it.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from autocommit.gitio import git
from autocommit.notices import warn_once

_roots: dict[str, str | None] = {}  # directory → top of its working tree (None: none)


def dependencies_json(own_root: Path) -> bytes:
    """The text of ``dependencies.json`` for the modules loaded now."""
    entries = [_describe(Path(root), modules) for root, modules in imported_trees(own_root)]
    return (json.dumps(entries, indent=1, sort_keys=True) + "\n").encode()


def imported_trees(own_root: Path) -> list[tuple[str, list[str]]]:
    """``(working tree, top-level modules loaded from it)`` for each working tree other
    than ``own_root`` that a loaded module's file lives in, sorted by path."""
    homes = _python_homes()
    own = os.path.realpath(own_root)
    found: dict[str, set[str]] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not os.path.isabs(file):
            continue
        directory = os.path.dirname(file)
        if (directory + os.sep).startswith(homes):
            continue
        root = _root_of(directory)
        if root is not None and root != own:
            found.setdefault(root, set()).add(name.partition(".")[0])
    return [(root, sorted(found[root])) for root in sorted(found)]


def _python_homes() -> tuple[str, ...]:
    """The Python installation, and autocommit itself (which records the run, and is not
    part of it, even when installed from a checkout)."""
    homes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    homes.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    homes.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return tuple(os.path.realpath(home) + os.sep for home in homes if home)


def _root_of(directory: str) -> str | None:
    """The top of the working tree holding ``directory`` (real path), by ``.git``."""
    if directory in _roots:
        return _roots[directory]
    real = os.path.realpath(directory)
    parent = os.path.dirname(real)
    if os.path.lexists(os.path.join(real, ".git")):
        root: str | None = real
    elif parent == real:
        root = None
    else:
        root = _root_of(parent)
    _roots[directory] = root
    return root


def _describe(root: Path, modules: list[str]) -> dict[str, Any]:
    head = git.run(["rev-parse", "--verify", "--quiet", "HEAD"], root, check=False)
    status = git.run(["status", "--porcelain", "--untracked-files=normal"], root, check=False)
    entry: dict[str, Any] = {
        "path": str(root),
        "modules": modules,
        "remote": _remote_url(root),
        "head": head.stdout.decode().strip() or None,
        "dirty": bool(status.stdout.strip()),
        "commit": None,
    }
    entry.update(_pinned(root))
    return entry


def _remote_url(root: Path) -> str | None:
    """The URL of ``origin`` (else the first remote), without a user name or password."""
    proc = git.run(["config", "--get-regexp", r"^remote\..*\.url$"], root, check=False)
    urls = dict(line.split(" ", 1) for line in proc.stdout.decode().splitlines() if " " in line)
    url = urls.get("remote.origin.url") or next(iter(urls.values()), None)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.netloc and "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return urlunsplit(parts)


def _pinned(root: Path) -> dict[str, Any]:
    """``{"enabled": True, "commit": <pinned run commit>}`` where autocommit is enabled in
    ``root``; else ``{"enabled": False}`` and one warning."""
    from autocommit.engine.run_pin import RunPin
    from autocommit.tracking import run_tags

    target = run_tags.find_target(root)
    if target is None:
        warn_once(f"this run imports code from {root}, where autocommit is not enabled: "
                  f"its uncommitted edits are not recorded (run `autocommit init` there "
                  f"to record them)")  # fmt: skip
        return {"enabled": False}
    try:
        worktree = run_tags.worktree_at(target.root)
        with ThreadPoolExecutor(max_workers=1) as pool:
            run = RunPin(worktree, pool)
            snap = run_tags.snapshot_for_run(worktree, target.settings, run)
            run.ensure(snap)
    except Exception as exc:  # the run goes on; its context says what is missing
        warn_once(f"no snapshot of {root}, which this run imports code from: {exc}")
        return {"enabled": True, "error": f"{type(exc).__name__}: {exc}"}
    return {"enabled": True, "commit": run.commit}
