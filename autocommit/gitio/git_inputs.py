"""Git's inputs: the files outside the working tree's content that decide what git stages.

Ignore rules (``info/exclude``, ``core.excludesFile``), attributes (``info/attributes``,
``core.attributesFile``: filters, eol) and configuration (system, global, XDG,
repository and worktree config, and every file they include) change what ``git add``
records for the same files. A snapshot kept from before such a change is stale: the
engine scans everything again and the daemon restarts the git processes it keeps,
which read these files once, when they start.

Listing them takes one ``git config`` (includes and the two ``core.*`` files are named
in the config); the list is kept while the config files themselves are unchanged, so
watching costs one ``stat`` per file.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from autocommit.gitio import git
from autocommit.gitio.repo import Worktree

# Where git builds look for their system-wide config (distributions, /usr/local, Homebrew).
SYSTEM_CONFIGS = ("/etc/gitconfig", "/usr/local/etc/gitconfig", "/opt/homebrew/etc/gitconfig")
_NAMES_FILES = r"^(include\.path|includeif\..*\.path|core\.excludesfile|core\.attributesfile)$"

Stat = tuple[int, int, int] | None
_listed: dict[tuple[Path, str], tuple[list[tuple[Path, Stat]], list[Path]]] = {}


def stat_of(path: Path) -> Stat:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def config_files(worktree: Worktree, env: Mapping[str, str] | None = None) -> list[Path]:
    """git's config files for this worktree, whether they exist or not, as git finds
    them (``GIT_CONFIG_SYSTEM``/``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL``, ``HOME``,
    ``XDG_CONFIG_HOME``); included files are not in this list (see :func:`files`)."""
    env = os.environ if env is None else env
    files: list[Path] = []
    if not _is_true(env.get("GIT_CONFIG_NOSYSTEM", "")):
        system = env.get("GIT_CONFIG_SYSTEM")
        files += [Path(system)] if system else [Path(p) for p in SYSTEM_CONFIGS]
    if env.get("GIT_CONFIG_GLOBAL"):
        files.append(Path(env["GIT_CONFIG_GLOBAL"]))
    else:
        xdg = _xdg_git_dir(env)
        if xdg is not None:
            files.append(xdg / "config")
        if env.get("HOME"):
            files.append(Path(env["HOME"]) / ".gitconfig")
    return [*files, worktree.common_dir / "config", worktree.git_dir / "config.worktree"]


def files(
    worktree: Worktree,
    env: Mapping[str, str] | None = None,
    *,
    read: Callable[[], Sequence[tuple[str, str]] | None] | None = None,
) -> list[Path]:
    """Every file git reads to decide what ``git add`` records in this worktree, whether
    it exists or not: :func:`config_files`, the files they include, the ignore and
    attribute files (``core.excludesFile``, ``core.attributesFile`` or their XDG
    defaults, ``info/exclude``, ``info/attributes``).

    ``read``: called only when the list must be made again, gives git's config as the
    caller already listed it (``(name, value)`` in git's order, names in lower case),
    covering ``core.excludesFile`` and ``core.attributesFile``, from a config that
    includes no other file; then git is not asked again (a new process's snapshot saves
    a ``git config``). None from it: git is asked."""
    env = os.environ if env is None else env
    base = config_files(worktree, env)
    key = (worktree.git_dir, json.dumps([str(p) for p in base]))
    kept = _listed.get(key)
    if kept is not None and all(stat_of(p) == s for p, s in kept[0]):
        return kept[1]
    started = time.time_ns()
    entries = read() if read is not None else None
    if entries is None:
        named, includes = _named_files(worktree, env)
    else:
        named, includes = _named_in(((None, n, v) for n, v in entries), env, worktree.root)
    configs = [*base, *includes]
    stats = [(p, stat_of(p)) for p in configs]
    common = worktree.common_dir
    listed = [*configs, *named, common / "info" / "exclude", common / "info" / "attributes"]
    # A file changed within its timestamp's granularity could look unchanged: keep the
    # list only when every config file was older than a second when read.
    if all(s is None or s[0] < started - 1_000_000_000 for _, s in stats):
        _listed[key] = (stats, listed)
    return listed


def fingerprint(paths: list[Path]) -> str:
    """Changes whenever one of ``paths`` is created, changed, replaced or removed."""
    text = json.dumps([[str(p), stat_of(p)] for p in paths])
    return hashlib.sha1(text.encode()).hexdigest()


def _named_files(worktree: Worktree, env: Mapping[str, str]) -> tuple[list[Path], list[Path]]:
    """``([excludes file, attributes file], [included files])`` as the config names them."""
    proc = git.run(["config", "-z", "--show-origin", "--get-regexp", _NAMES_FILES],
                   worktree.root, ok_codes=(0, 1))  # fmt: skip
    parts = proc.stdout.decode(errors="surrogateescape").split("\0")
    listed = ((origin, *entry.partition("\n")[::2])
              for origin, entry in zip(parts[::2], parts[1::2], strict=False))  # fmt: skip
    return _named_in(listed, env, worktree.root)


def _named_in(
    listed: Iterable[tuple[str | None, str, str]], env: Mapping[str, str], root: Path
) -> tuple[list[Path], list[Path]]:
    """:func:`_named_files` of config entries ``(origin, name, value)`` (origin: git's
    ``--show-origin``, None when not asked for)."""
    xdg = _xdg_git_dir(env)
    excludes = xdg / "ignore" if xdg else None
    attributes = xdg / "attributes" if xdg else None
    includes: list[Path] = []
    for origin, name, value in listed:
        if not value:
            continue
        if name == "core.excludesfile":
            excludes = _expand(value, env, root)
        elif name == "core.attributesfile":
            attributes = _expand(value, env, root)
        elif origin is not None and origin.startswith("file:") and name.startswith("include"):
            # an include: relative to the including file
            includes.append(_expand(value, env, Path(origin.removeprefix("file:")).parent))
    return [p for p in (excludes, attributes) if p is not None], includes


def _expand(value: str, env: Mapping[str, str], base: Path) -> Path:
    if value.startswith("~/") and env.get("HOME"):
        value = env["HOME"] + value[1:]
    path = Path(value)
    return path if path.is_absolute() else base / path


def _xdg_git_dir(env: Mapping[str, str]) -> Path | None:
    if env.get("XDG_CONFIG_HOME"):
        return Path(env["XDG_CONFIG_HOME"]) / "git"
    if env.get("HOME"):
        return Path(env["HOME"]) / ".config" / "git"
    return None


def _is_true(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}
