"""Settings and where they come from.

Sources, lowest precedence first:
1. ``[tool.autocommit]`` in ``pyproject.toml`` at the top of the working tree (team);
2. ``.autocommit.toml`` there (team; top-level keys or a ``[tool.autocommit]`` table);
3. git config ``autocommit.<key>`` (local, global, system; the key without underscores);
4. environment variables ``AUTOCOMMIT_<KEY>`` (one-off).

The two files are part of the repository, so whoever wrote it chose what they say: they
may set only :data:`REPOSITORY_KEYS`. Every other key comes from the user alone (git
config, the environment), as in git's own trust model; a file that sets one is ignored
for that key, with one warning.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from autocommit.contract import (
    LAUNCH_PREFIX,
    SETTING_VARIABLE_PREFIX,
    TOOL_VARIABLE_PREFIXES,
    TOOL_VARIABLES,
)
from autocommit.errors import AutocommitError, GitCommandError
from autocommit.gitio import git, git_inputs
from autocommit.gitio.repo import Worktree
from autocommit.notices import warn_once
from autocommit.settings import last_good as _last_good

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
    # Keys and key stores (gitrob's signatures, gitleaks' pkcs12-file rule).
    "*.pkcs12",
    "*.ppk",
    "*.keytab",
    "*.kdbx",
    "*.ovpn",
    "*_rsa",
    "*_dsa",
    "*_ecdsa",
    "*_ed25519",
    ".ssh/",
    ".gnupg/",
    # Tokens and passwords of command-line tools, also found in a working tree used as
    # $HOME (a container, a notebook server).
    ".npmrc",
    ".dockercfg",
    "**/.docker/config.json",
    "kubeconfig",
    "*.kubeconfig",
    "**/.kube/config",
    ".s3cfg",
    ".boto",
    "rclone.conf",
    ".azure/",
    "*.publishsettings",
    "**/gcloud/credentials.db",
    "**/gcloud/access_tokens.db",
    ".databrickscfg",
    ".vault-token",
    ".terraformrc",
    "terraform.rc",
    "*.tfstate",
    "*.tfstate.backup",
    "*.tfvars",
    "*.tfvars.json",
    "**/gh/hosts.yml",
    ".my.cnf",
    "sftp-config.json",
    ".*_history",
    # Machine learning services: Kaggle, Hugging Face (wandb uses .netrc, MLflow and
    # AWS a file named credentials, Google application_default_credentials.json).
    "kaggle.json",
    "**/huggingface/token",
    "**/huggingface/stored_tokens",
    "**/.huggingface/token",
    # Names that say what they hold.
    "token.json",
    "token.txt",
    "secret.txt",
    "api_key.txt",
    "api-key.txt",
    "apikey.txt",
)

# Where datasets usually are; virtualenvs, caches and mlruns/ are never walked (see
# autocommit.tracking.data_files).
DEFAULT_DATA_PATHS: tuple[str, ...] = ("data/", "datasets/")

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


class Settings(NamedTuple):
    """Every setting, with its default. The README documents each one."""

    enabled: bool = False  # set by `autocommit init`; nothing happens in a repo without it
    max_file_size: int = 5 * 1024**2  # untracked files larger than this are left out
    secret_patterns: tuple[str, ...] = DEFAULT_SECRET_PATTERNS  # untracked matches left out
    exclude: tuple[str, ...] = ()  # more gitignore-style patterns to leave out
    include_private: bool = False  # snapshot untracked files only their owner may read
    daemon: bool = True  # `init` starts the watch daemon
    hooks: bool = True  # `init` installs the git hooks
    autostart: bool = False  # plugin and hooks start the daemon when it is not running
    quiet_period: float = 0.3  # seconds without events before the daemon snapshots
    max_wait: float = 2.0  # seconds of continuous events after which it snapshots anyway
    override_mlflow_commit: bool = True  # set mlflow.source.git.commit to the snapshot
    remote: str = "origin"  # where push/fetch share refs/autocommit/*
    push_on_run: bool = False  # push each new pin in the background when a run starts
    context_environment: bool = True  # a run's context lists Python and its distributions
    context_session: bool = True  # ... the cells of the IPython session or REPL it ran in
    context_dependencies: bool = True  # ... the other working trees it imported from
    context_data: bool = True  # ... the fingerprints of the files data_paths names
    data_paths: tuple[str, ...] = DEFAULT_DATA_PATHS  # gitignore-style, inside the repository


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


def format_size(size: int) -> str:
    """Bytes → ``512 B``, ``2.0 KiB``, ``6.0 MiB``, ``1.5 GiB`` (the units parse_size reads)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


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
    "include_private": _parse_bool,
    "daemon": _parse_bool,
    "hooks": _parse_bool,
    "autostart": _parse_bool,
    "quiet_period": parse_duration,
    "max_wait": parse_duration,
    "override_mlflow_commit": _parse_bool,
    "remote": _parse_str,
    "push_on_run": _parse_bool,
    "context_environment": _parse_bool,
    "context_session": _parse_bool,
    "context_dependencies": _parse_bool,
    "context_data": _parse_bool,
    "data_paths": _parse_list,
}
KEYS: tuple[str, ...] = Settings._fields
assert set(_PARSERS) == set(KEYS), "every setting needs a parser"
# AUTOCOMMIT_RUN_* variables describe a submitted run, not settings.
assert not any(("AUTOCOMMIT_" + k.upper()).startswith(LAUNCH_PREFIX) for k in KEYS)

# What a file of the repository may set: none of these can run a program, send anything
# anywhere, enable autocommit or leave out less than the defaults do. ``exclude`` only adds
# exclusions (it is matched on its own, so a ``!pattern`` cannot undo a secret pattern);
# ``quiet_period``/``max_wait`` tune when the daemon snapshots (a run always gets the
# tree as it is); ``daemon``/``hooks`` can only make `autocommit init` do less than by
# default; ``override_mlflow_commit`` picks which commit MLflow's own tag names;
# ``data_paths`` only names files inside the repository whose size, time and hash a run's
# context records (nothing is copied, sent or run; paths leaving the repository are
# refused). Every other key, and any key added later unless it is listed here, is the
# user's alone (the context_* switches among them: session code is the user's to share).
REPOSITORY_KEYS: frozenset[str] = frozenset(
    {"exclude", "quiet_period", "max_wait", "daemon", "hooks", "override_mlflow_commit",
     "data_paths"}
)  # fmt: skip
assert set(KEYS) >= REPOSITORY_KEYS
SETTINGS_FILES: tuple[str, ...] = ("pyproject.toml", ".autocommit.toml")
_GIT_CONFIG_ORIGIN = "git config "  # how a value's origin starts when git config set it


_Sources = dict[str, tuple[Any, str]]  # setting → (raw value, where it was found)
_Fingerprint = list[tuple[str, tuple[int, int, int] | None]]
_git_configs: dict[Path, tuple[_Fingerprint, GitConfig]] = {}  # see git_config


def git_config_key(key: str) -> str:
    """The git config name of a setting: ``max_file_size`` → ``autocommit.maxfilesize``."""
    return "autocommit." + key.replace("_", "")


def _from_toml_files(root: Path) -> dict[str, tuple[Any, str]]:
    """What the repository's settings files say, minus the keys only the user may set
    (reported in one warning)."""
    found: dict[str, tuple[Any, str]] = {}
    refused: dict[str, list[str]] = {}  # file → the user's keys it tried to set
    for name in SETTINGS_FILES:
        for key, value in _toml_table(root / name).items():
            setting = key.replace("-", "_")
            if setting in KEYS and setting not in REPOSITORY_KEYS:
                refused.setdefault(name, []).append(setting)
            else:  # an unknown key is reported by _merge, as anywhere else
                found[setting] = (value, f"{name} [tool.autocommit] {key}")
    if refused:
        warn_once(_refused_message(refused))
    return found


def _toml_table(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    import tomllib  # here: most repositories have no such file, and a new process saves ~5 ms

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AutocommitError(f"cannot read {path}: {exc}", "fix the file's TOML syntax") from exc
    table: dict[str, Any] = data.get("tool", {}).get("autocommit", {})
    if path.name == ".autocommit.toml" and not table:
        table = {k: v for k, v in data.items() if k != "tool"}
    return table


def _refused_message(refused: dict[str, list[str]]) -> str:
    """One line: which file set which of the user's keys, and how to set them instead."""
    where = "; ".join(f"{', '.join(keys)} in {name}" for name, keys in refused.items())
    keys = dict.fromkeys(key for found in refused.values() for key in found)
    how = ", ".join(
        "`autocommit init` (enabled)"
        if key == "enabled"
        else f"`git config {git_config_key(key)} <value>`"
        for key in keys
    )
    return (
        f"ignored {where}: a file in the repository may not set these (only your git config "
        f"or AUTOCOMMIT_* variables may); to use them, set them yourself: {how}"
    )


def _user_trusted(sources: _Sources) -> _Sources:
    """``sources`` without what a repository file set beyond :data:`REPOSITORY_KEYS`.

    For settings saved by an earlier version, which trusted the files with every key.
    """
    return {key: (value, origin) for key, (value, origin) in sources.items()
            if key in REPOSITORY_KEYS or origin.startswith(_GIT_CONFIG_ORIGIN)}  # fmt: skip


# One ``git config`` read answers for the settings, whether the config includes other
# files, and the core and user keys a snapshot depends on (see GitConfig).
_GIT_KEYS = (
    r"^(autocommit|include|includeif)\.|"
    r"^(core\.(filemode|symlinks|sparsecheckout|sharedrepository|excludesfile|attributesfile)"
    r"|user\.(name|email))$"
)


class GitConfig(NamedTuple):
    """What one ``git config`` read found of the keys autocommit reads."""

    entries: tuple[tuple[str, str], ...]  # (name, value) in git's order, later ones win
    failure: tuple[int, str] | None = None  # git's exit status and stderr, when it failed

    def checked(self) -> GitConfig:
        """This read, unless git could not read its config (then the error)."""
        if self.failure is not None:
            raise GitCommandError(["config", "--get-regexp", _GIT_KEYS], *self.failure)
        return self

    def get(self, name: str, default: str) -> str:
        """The value of ``name`` (lower case, as git lists it), or ``default``."""
        found = default
        for key, value in self.entries:
            if key == name:
                found = value
        return found

    @property
    def includes(self) -> bool:
        """Whether the config includes other files (whose changes no stat here tells)."""
        return any(name.startswith("include") for name, _ in self.entries)


def read_git_config(root: Path) -> GitConfig:
    """Read the keys autocommit needs from git's config for the working tree at ``root``."""
    proc = git.run(["config", "-z", "--get-regexp", _GIT_KEYS], root, check=False)
    entries = []
    for entry in proc.stdout.decode(errors="replace").split("\0"):
        if entry:
            name, _, value = entry.partition("\n")
            entries.append((name.lower(), value))
    failed = proc.returncode not in (0, 1)  # 1: none of the keys is set
    failure = (proc.returncode, proc.stderr.decode(errors="replace")) if failed else None
    return GitConfig(tuple(entries), failure)


def git_config(worktree: Worktree, environ: Mapping[str, str] | None = None) -> GitConfig:
    """:func:`read_git_config`, read once while git's config files are unchanged.

    Kept, like :func:`load_cached`'s files, while every config file has the same size,
    time and inode and all of them were older than a second when read; config that
    includes other files is read every time. So a new process's snapshot reads the
    config once for its settings, its core keys and the ignore and attribute files it
    names (:func:`kept_git_config`), and a long-lived one again after a change.
    """
    started = time.time_ns()
    fingerprint = _config_fingerprint(worktree, environ)
    kept = _kept_read(worktree, fingerprint)
    if kept is not None:
        return kept
    found = read_git_config(worktree.root)
    if _settled(fingerprint, started) and not found.includes and found.failure is None:
        _git_configs[worktree.root] = (fingerprint, found)
    else:
        _git_configs.pop(worktree.root, None)
    return found


def kept_git_config(
    worktree: Worktree, environ: Mapping[str, str] | None = None
) -> GitConfig | None:
    """The read :func:`git_config` keeps, while git's config files are unchanged (None
    when it keeps none: it would read the config again). Such a read includes no files."""
    return _kept_read(worktree, _config_fingerprint(worktree, environ))


def _kept_read(worktree: Worktree, fingerprint: _Fingerprint) -> GitConfig | None:
    kept = _git_configs.get(worktree.root)
    return kept[1] if kept is not None and kept[0] == fingerprint else None


def _config_fingerprint(worktree: Worktree, environ: Mapping[str, str] | None) -> _Fingerprint:
    files = git_inputs.config_files(worktree, os.environ if environ is None else environ)
    return [(str(f), git_inputs.stat_of(f)) for f in files]


def _settled(fingerprint: _Fingerprint, started: int) -> bool:
    """Whether every file was older than a second when read: a file changed twice within
    its timestamp's granularity could look unchanged."""
    return all(s is None or s[0] < started - 1_000_000_000 for _, s in fingerprint)


def _from_git_config(root: Path, read: GitConfig | None = None
                     ) -> tuple[dict[str, tuple[Any, str]], bool]:  # fmt: skip
    """The ``autocommit.*`` keys git config has (in ``read``, else read now), and whether
    it includes other files."""
    read = read or read_git_config(root)
    by_git_name = {git_config_key(k): k for k in KEYS}
    found: dict[str, tuple[Any, str]] = {}
    for name, value in read.entries:
        if not name.startswith("autocommit."):
            continue
        key = by_git_name.get(name, name.removeprefix("autocommit."))
        found[key] = (value, f"{_GIT_CONFIG_ORIGIN}{name}")
    return found, read.includes


def environment_variable(key: str) -> str:
    """The environment variable of a setting: ``max_file_size`` → ``AUTOCOMMIT_MAX_FILE_SIZE``."""
    return SETTING_VARIABLE_PREFIX + key.upper()


_SETTING_VARIABLES = {environment_variable(key): key for key in KEYS}


def _from_environment(environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    found: dict[str, tuple[Any, str]] = {}
    for var, value in environ.items():
        if not var.startswith(SETTING_VARIABLE_PREFIX):
            continue
        key = _SETTING_VARIABLES.get(var)
        if key is not None:
            found[key] = (value, f"environment {var}")
        elif not _other_variable(var):
            raise _unknown_variable(var)
    return found


def _other_variable(var: str) -> bool:
    """An ``AUTOCOMMIT_*`` variable that is not a setting, yet no mistake: a submitted
    run's (``AUTOCOMMIT_RUN_*``), or one of the project's tools'."""
    return var in TOOL_VARIABLES or var.startswith((LAUNCH_PREFIX, *TOOL_VARIABLE_PREFIXES))


assert not any(_other_variable(var) for var in _SETTING_VARIABLES)


def _unknown_variable(var: str) -> AutocommitError:
    """A typo in a variable's name would otherwise be ignored without a word."""
    import difflib  # here: seldom needed

    near = difflib.get_close_matches(var.removeprefix(SETTING_VARIABLE_PREFIX).lower(), KEYS, n=1)
    return AutocommitError(
        f"unknown setting {var} (environment)",
        f"did you mean {environment_variable(near[0])}? rename or unset it" if near
        else f"unset it; a setting's variable is AUTOCOMMIT_<KEY>, KEY one of: {', '.join(KEYS)}",
    )  # fmt: skip


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
        last = _user_trusted(last)
        readable_git = {k: v for k, v in _from_git_config(worktree.root)[0].items()
                        if _parses(k, v[0])}  # fmt: skip
        return _merge({**last, **readable_git}, env), exc
    if settings.enabled:  # nothing is written where autocommit is not enabled
        _last_good.keep(worktree, sources)
    return settings, None


def _sources_cached(worktree: Worktree, env: Mapping[str, str]) -> _Sources:
    files = _settings_files(worktree, env)
    started = time.time_ns()
    fingerprint = [(str(f), git_inputs.stat_of(f)) for f in files]
    cached = _file_settings.get(worktree.root)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    from_git, includes = _from_git_config(worktree.root, git_config(worktree, env))
    merged = {**_from_toml_files(worktree.root), **from_git}
    if _settled(fingerprint, started) and not includes:
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


_file_settings: dict[Path, tuple[_Fingerprint, _Sources]] = {}


def _settings_files(worktree: Worktree, env: Mapping[str, str]) -> list[Path]:
    """Every file settings come from (whether it exists or not), as git finds them."""
    team = [worktree.root / name for name in SETTINGS_FILES]
    return [*team, *git_inputs.config_files(worktree, env)]


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
    return Settings(**values)
