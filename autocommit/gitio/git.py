"""Running git safely on a user's repository.

Every git process autocommit starts goes through :func:`run`: the variables a git hook
exports (``GIT_INDEX_FILE``, ``GIT_DIR``, …) are scrubbed so they cannot redirect us to
the user's index, optional locks are off so reads never take ``index.lock``, and hooks
are disabled so no user hook (``reference-transaction`` included) ever runs on our behalf.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence

from autocommit.errors import AutocommitError, GitCommandError

# What `git rev-parse --local-env-vars` printed on git 2.39; used when git cannot be asked.
_FALLBACK_LOCAL_ENV_VARS = [
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT", "GIT_OBJECT_DIRECTORY", "GIT_DIR", "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE", "GIT_INDEX_FILE", "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE", "GIT_PREFIX", "GIT_SHALLOW_FILE", "GIT_COMMON_DIR",
]  # fmt: skip
# Not repository-local for git, but they would move our refs or objects elsewhere, or
# make a file name mean a pattern (see LITERAL_PATHSPECS).
_ALSO_SCRUBBED = [
    "GIT_NAMESPACE", "GIT_QUARANTINE_PATH",
    "GIT_GLOB_PATHSPECS", "GIT_NOGLOB_PATHSPECS", "GIT_ICASE_PATHSPECS",
]  # fmt: skip
# Every path autocommit hands to git is a file name, never a pattern: `:!y`, `a*b` and
# `[x]` are names. Commands that take a pattern from the user opt out (PATTERN_PATHSPECS).
LITERAL_PATHSPECS = {"GIT_LITERAL_PATHSPECS": "1"}
PATTERN_PATHSPECS = {"GIT_LITERAL_PATHSPECS": "0"}

# Options for every invocation: no hooks, no automatic gc or maintenance, no pager.
_BASE_OPTIONS = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "gc.auto=0",
    "-c", "maintenance.auto=false",
    "-c", "advice.addEmbeddedRepo=false",
    "-c", "advice.addIgnoredFile=false",
    "--no-pager",
)  # fmt: skip


def zero_oid(like: str) -> str:
    """The null object id (``update-ref``'s "must not exist") of the repository whose
    object ids look like ``like``: 40 zeros for SHA-1, 64 for SHA-256."""
    return "0" * len(like)


# File descriptors every git child started in this context inherits (see children_inherit).
_inherited_fds: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar(
    "autocommit_inherited_fds", default=()
)


@contextlib.contextmanager
def children_inherit(fd: int) -> Iterator[None]:
    """Every git child started inside this block (in this thread) inherits ``fd``.

    Used for the snapshot lock: a ``flock`` lives as long as any process holding its file
    descriptor, so a git child that outlives a killed snapshot keeps the lock held until
    it exits, and the next snapshot never races with it.
    """
    token = _inherited_fds.set((*_inherited_fds.get(), fd))
    try:
        yield
    finally:
        _inherited_fds.reset(token)


# GIT_* variables of transport, identity, terminal, tracing and the user's and system's
# config files, which no git version reads as a repository's (its local ones: `git
# rev-parse --local-env-vars`)
_NEVER_LOCAL = ("GIT_SSL_", "GIT_SSH", "GIT_ASKPASS", "GIT_TERMINAL_PROMPT", "GIT_PAGER",
                "GIT_EDITOR", "GIT_AUTHOR_", "GIT_COMMITTER_", "GIT_HTTP_", "GIT_PROXY_",
                "GIT_CURL_", "GIT_TRACE", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM",
                "GIT_CONFIG_NOSYSTEM")  # fmt: skip


def repository_variables_set() -> bool:
    """Whether the environment holds a ``GIT_*`` variable that may be a repository's
    (every one git reads for a repository is named so; hooks export several)."""
    return any(k.startswith("GIT_") and not k.startswith(_NEVER_LOCAL) for k in os.environ)


@functools.lru_cache(maxsize=1)
def _local_env_vars() -> frozenset[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--local-env-vars"],
            env=clean,
            capture_output=True,
            check=True,
            text=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    return frozenset([*out, *_FALLBACK_LOCAL_ENV_VARS, *_ALSO_SCRUBBED])


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a git child: the caller's, minus repository-local variables.

    Built afresh for each call: a long-lived process (a notebook, the daemon) may change
    its environment between snapshots.
    """
    # With none set that could be a repository's, there is nothing to scrub and no need
    # to ask git which they are (a process start).
    scrub = _local_env_vars() if repository_variables_set() else ()
    env = {k: v for k, v in os.environ.items() if k not in scrub}
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"
    env.update(LITERAL_PATHSPECS)
    if extra:
        env.update(extra)
    return env


def run(
    args: Sequence[str],
    cwd: os.PathLike[str] | str,
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    ok_codes: Sequence[int] = (0,),
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git <args>`` in ``cwd``; raise :class:`GitCommandError` on an unexpected exit."""
    argv = ["git", *_BASE_OPTIONS, *args]
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            input=input,
            env=scrubbed_env(env),
            capture_output=True,
            check=False,
            pass_fds=_inherited_fds.get(),
        )
    except FileNotFoundError as exc:
        raise _git_missing() from exc
    if check and proc.returncode not in ok_codes:
        raise GitCommandError(list(args), proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


def popen(
    args: Sequence[str],
    cwd: os.PathLike[str] | str,
    *,
    env: Mapping[str, str] | None = None,
    kept: bool = False,
) -> subprocess.Popen[bytes]:
    """Start a ``git <args>`` talking through pipes (stdin, stdout).

    ``kept``: the process serves many snapshots (a daemon keeps it), so it must not
    inherit the snapshot lock (:func:`children_inherit`), which it would hold for good.
    """
    try:
        return subprocess.Popen(
            ["git", *_BASE_OPTIONS, *args],
            cwd=cwd,
            env=scrubbed_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=() if kept else _inherited_fds.get(),
        )
    except FileNotFoundError as exc:
        raise _git_missing() from exc


def not_an_option(value: str, what: str, todo: str) -> str:
    """``value``, or a one-line error when it starts with ``-`` (git would read an option).

    For values git takes where no ``--end-of-options`` can go, and to say clearly why a
    name is refused rather than let git fail on it.
    """
    if value.startswith("-"):
        raise AutocommitError(
            f"{what} {value!r} starts with '-', which git would read as an option", todo
        )
    return value


@functools.lru_cache(maxsize=1)
def version() -> tuple[int, ...]:
    """git's version, as numbers: ``(2, 39, 5)``."""
    import re  # here: this module loads before a new snapshot's git starts (cli.main)

    words = out(["version"], "/").split()  # any directory: it reads no repository
    numbers = re.findall(r"\d+", words[2] if len(words) > 2 else "")
    return tuple(int(n) for n in numbers[:3])


def _git_missing() -> AutocommitError:
    return AutocommitError("git is not installed", "install git and try again")


def out(
    args: Sequence[str],
    cwd: os.PathLike[str] | str,
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run git and return its stdout as text, without the trailing newline."""
    proc = run(args, cwd, input=input, env=env)
    return proc.stdout.decode(errors="surrogateescape").rstrip("\n")


def check_ignore(root: os.PathLike[str] | str, paths: Sequence[str]) -> set[str]:
    """The paths (relative to ``root``; a directory ends in ``/``) that an ignore pattern
    matches, tracked or not: the index is not read.

    ``check-ignore`` refuses literal pathspecs, so each name is marked ``:(top)`` instead,
    which makes a name starting with ``:`` a name too (it tests names, matching no files,
    so ``*`` or ``[`` in a name mean nothing to it).
    """
    if not paths:
        return set()
    proc = run(["check-ignore", "--no-index", "--stdin", "-z"], root,
               input=nul_join([_TOP + p for p in paths]), env=PATTERN_PATHSPECS,
               ok_codes=(0, 1))  # fmt: skip
    return {p.removeprefix(_TOP) for p in nul_split(proc.stdout)}


_TOP = ":(top)"


def nul_split(data: bytes) -> list[str]:
    """Split git's ``-z`` output into paths (file names may hold any byte but NUL)."""
    return [p.decode(errors="surrogateescape") for p in data.split(b"\0") if p]


def nul_join(paths: Sequence[str]) -> bytes:
    return b"".join(p.encode(errors="surrogateescape") + b"\0" for p in paths)


def c_quote(path: str) -> str:
    """Quote a path the way git's ``--stdin-paths`` readers unquote it, when it must be."""
    if path.isprintable() and not path.startswith('"'):
        return path
    out = []
    for byte in path.encode(errors="surrogateescape"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif byte < 0x20 or byte >= 0x7F:
            out.append(f"\\{byte:03o}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
