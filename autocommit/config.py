"""Settings and where they come from.

Sources, lowest precedence first:
1. ``[tool.autocommit]`` in ``pyproject.toml`` at the top of the working tree (team);
2. ``.autocommit.toml`` there (team; top-level keys or a ``[tool.autocommit]`` table);
3. git config ``autocommit.<key>`` (local; the key without underscores, any case);
4. environment variables ``AUTOCOMMIT_<KEY>`` (one-off).
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from autocommit import git
from autocommit import last_good_settings as _last_good
from autocommit.errors import AutocommitError
from autocommit.repo import Worktree

DEFAULT_SECRET_PATTERNS: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".pypirc",
    ".git-credentials",
    ".htpasswd",
    "credentials",
    "credentials.json",
    "*credentials*.json",
    "client_secret*.json",
    "service-account*.json",
    "secrets.*",
    "*.secret",
    "*.secrets",
)

_SIZE_UNITS = {"": 1, "b": 1}
for _exponent, _letter in enumerate("kmg", start=1):
    for _suffix in (_letter, _letter + "b", _letter + "ib"):
        _SIZE_UNITS[_suffix] = 1024**_exponent
_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default. The README documents each one."""

    enabled: bool = False  # set by `autocommit init`; nothing happens in a repo without it
    max_file_size: int = 5 * 1024**2  # untracked files larger than this are left out
    secret_patterns: tuple[str, ...] = DEFAULT_SECRET_PATTERNS  # untracked matches left out
    exclude: tuple[str, ...] = ()  # more gitignore-style patterns to leave out
    daemon: bool = True  # `init` starts the watch daemon
    hooks: bool = True  # `init` installs the git hooks
    autostart: bool = False  # plugin and hooks start the daemon when it is not running
    quiet_period: float = 0.3  # seconds without events before the daemon snapshots
    max_wait: float = 2.0  # seconds of continuous events after which it snapshots anyway
    override_mlflow_commit: bool = True  # set mlflow.source.git.commit to the snapshot
    remote: str = "origin"  # where push/fetch share refs/autocommit/*
    push_on_run: bool = False  # push each new pin in the background when a run starts


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def parse_size(value: Any) -> int:
    """``5MiB``, ``500k``, ``1048576`` → bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"expected a size such as 5MiB or 500k, got {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def parse_duration(value: Any) -> float:
    """``300ms``, ``2s``, ``30d``, ``1.5`` → seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _DURATION_UNITS:
        raise ValueError(f"expected a duration such as 300ms, 2s or 30d, got {value!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]


def _parse_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def _parse_str(value: Any) -> str:
    return str(value)


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "enabled": _parse_bool,
    "max_file_size": parse_size,
    "secret_patterns": _parse_list,
    "exclude": _parse_list,
    "daemon": _parse_bool,
    "hooks": _parse_bool,
    "autostart": _parse_bool,
    "quiet_period": parse_duration,
    "max_wait": parse_duration,
    "override_mlflow_commit": _parse_bool,
    "remote": _parse_str,
    "push_on_run": _parse_bool,
}
KEYS: tuple[str, ...] = tuple(f.name for f in fields(Settings))
assert set(_PARSERS) == set(KEYS), "every setting needs a parser"


_Sources = dict[str, tuple[Any, str]]  # setting → (raw value, where it was found)


def git_config_key(key: str) -> str:
    """The git config name of a setting: ``max_file_size`` → ``autocommit.maxfilesize``."""
    return "autocommit." + key.replace("_", "")


def _from_toml_files(root: Path) -> dict[str, tuple[Any, str]]:
    found: dict[str, tuple[Any, str]] = {}
    for name in ("pyproject.toml", ".autocommit.toml"):
        path = root / name
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AutocommitError(
                f"cannot read {path}: {exc}", "fix the file's TOML syntax"
            ) from exc
        table = data.get("tool", {}).get("autocommit", {})
        if name == ".autocommit.toml" and not table:
            table = {k: v for k, v in data.items() if k != "tool"}
        for key, value in table.items():
            found[key.replace("-", "_")] = (value, f"{name} [tool.autocommit] {key}")
    return found


def _from_git_config(root: Path) -> tuple[dict[str, tuple[Any, str]], bool]:
    """The ``autocommit.*`` keys git config has, and whether it includes other files."""
    proc = git.run(["config", "-z", "--get-regexp", r"^(autocommit|include|includeif)\."],
                   root, check=False)  # fmt: skip
    by_git_name = {git_config_key(k): k for k in KEYS}
    found: dict[str, tuple[Any, str]] = {}
    includes = False
    for entry in proc.stdout.decode(errors="replace").split("\0"):
        if not entry:
            continue
        name, _, value = entry.partition("\n")
        if not name.lower().startswith("autocommit."):
            includes = True
            continue
        key = by_git_name.get(name.lower(), name.lower().removeprefix("autocommit."))
        found[key] = (value, f"git config {name}")
    return found, includes


def _from_environment(environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    found: dict[str, tuple[Any, str]] = {}
    for key in KEYS:
        var = "AUTOCOMMIT_" + key.upper()
        if var in environ:
            found[key] = (environ[var], f"environment {var}")
    return found


def load(root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for the working tree at ``root``, all sources merged."""
    from_git, _ = _from_git_config(root)
    return _merge({**_from_toml_files(root), **from_git}, environ)


def load_cached(worktree: Worktree, environ: Mapping[str, str] | None = None) -> Settings:
    """:func:`load`, without a ``git config`` process while no settings file changed.

    For callers that load the settings again and again (the MLflow plugin, at every run).
    What the files said is reused while every file they come from (``pyproject.toml``,
    ``.autocommit.toml``, git's system, global, repository and worktree config) has the
    same size, time and inode, and all of them were older than a second when read (a
    file changed twice within its timestamp's granularity could look unchanged). Git
    config that includes other files is read every time. Environment variables always
    apply afresh.
    """
    env = os.environ if environ is None else environ
    return _merge(_sources_cached(worktree, env), env)


def load_or_last_good(
    worktree: Worktree, environ: Mapping[str, str] | None = None
) -> tuple[Settings, AutocommitError | None]:
    """:func:`load_cached`; when the settings cannot be read (a ``pyproject.toml`` in the
    middle of an edit), the ones last read in this working tree instead, with the error.

    For work nobody asked for by name (a run's snapshot, the daemon), which should not
    stop while someone edits a settings file. Your git config still counts where it can
    be read (``autocommit.enabled false`` disables even then). Raises when no settings
    were ever read here.
    """
    env = os.environ if environ is None else environ
    try:
        sources = _sources_cached(worktree, env)
        settings = _merge(sources, env)
    except AutocommitError as exc:
        last = _last_good.read(worktree)
        if last is None:
            raise
        readable_git = {k: v for k, v in _from_git_config(worktree.root)[0].items()
                        if _parses(k, v[0])}  # fmt: skip
        return _merge({**last, **readable_git}, env), exc
    if settings.enabled:  # nothing is written where autocommit is not enabled
        _last_good.keep(worktree, sources)
    return settings, None


def _sources_cached(worktree: Worktree, env: Mapping[str, str]) -> _Sources:
    files = _settings_files(worktree, env)
    started = time.time_ns()
    fingerprint = [(str(f), _stat(f)) for f in files]
    cached = _file_settings.get(worktree.root)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    from_git, includes = _from_git_config(worktree.root)
    merged = {**_from_toml_files(worktree.root), **from_git}
    settled = all(s is None or s[0] < started - 1_000_000_000 for _, s in fingerprint)
    if settled and not includes:
        _file_settings[worktree.root] = (fingerprint, merged)
    else:
        _file_settings.pop(worktree.root, None)
    return merged


def _parses(key: str, raw: Any) -> bool:
    try:
        _PARSERS[key](raw)
    except (KeyError, ValueError):
        return False
    return True


_Fingerprint = list[tuple[str, tuple[int, int, int] | None]]
_file_settings: dict[Path, tuple[_Fingerprint, _Sources]] = {}


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def _settings_files(worktree: Worktree, env: Mapping[str, str]) -> list[Path]:
    """Every file settings come from (whether it exists or not), as git finds them."""
    files = [worktree.root / "pyproject.toml", worktree.root / ".autocommit.toml",
             worktree.common_dir / "config", worktree.git_dir / "config.worktree"]  # fmt: skip
    if not _is_true(env.get("GIT_CONFIG_NOSYSTEM", "")):
        system = env.get("GIT_CONFIG_SYSTEM")
        files += [Path(system)] if system else [Path(p) for p in _SYSTEM_CONFIGS]
    home, xdg = env.get("HOME"), env.get("XDG_CONFIG_HOME")
    if env.get("GIT_CONFIG_GLOBAL"):
        files.append(Path(env["GIT_CONFIG_GLOBAL"]))
    else:
        if xdg or home:
            files.append(Path(xdg or f"{home}/.config") / "git" / "config")
        if home:
            files.append(Path(home) / ".gitconfig")
    return files


# Where git builds look for their system-wide config (distributions, /usr/local, Homebrew).
_SYSTEM_CONFIGS = ("/etc/gitconfig", "/usr/local/etc/gitconfig", "/opt/homebrew/etc/gitconfig")


def _is_true(value: str) -> bool:
    try:
        return _parse_bool(value)
    except ValueError:
        return False


def _merge(files: _Sources, environ: Mapping[str, str] | None) -> Settings:
    merged = {**files, **_from_environment(os.environ if environ is None else environ)}
    values: dict[str, Any] = {}
    for key, (raw, origin) in merged.items():
        if key not in _PARSERS:
            raise AutocommitError(
                f"unknown setting {key!r} ({origin})",
                f"use one of: {', '.join(KEYS)}",
            )
        try:
            values[key] = _PARSERS[key](raw)
        except ValueError as exc:
            raise AutocommitError(f"bad value for {key} ({origin}): {exc}", "fix it") from exc
    return dataclasses.replace(Settings(), **values)
