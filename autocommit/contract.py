"""The public contract: the names users, scripts and other tools rely on, in one place.

Ref namespaces, commit trailers, MLflow tag names and the shape of object ids. Every
other module takes them from here; changing one is a change of the public contract
(README "Shadow refs", "Tags"), so it goes in the changelog.
"""

from __future__ import annotations

import re

# Refs. Outside refs/heads, so `git branch`, `git push --all` and clones leave them alone.
NAMESPACE = "refs/autocommit/"
SHADOW_PREFIX = NAMESPACE + "heads/"  # refs/autocommit/heads/<branch>: a shadow branch
PIN_PREFIX = NAMESPACE + "pins/"  # refs/autocommit/pins/<commit>: keeps a run's code alive
DETACHED_PREFIX = NAMESPACE + "detached/"  # the chain of a working tree on a detached HEAD
REMOTES_PREFIX = NAMESPACE + "remotes/"  # a teammate's fetched shadow branches

# Trailers of snapshot and run commits.
HEAD_TRAILER = "Autocommit-Head"  # the HEAD a snapshot was taken on (or UNBORN)
SKIPPED_TRAILER = "Autocommit-Skipped"  # one per file left out: `<path> (<reason>)`
SNAPSHOT_TRAILER = "Autocommit-Snapshot"  # on a run commit: the chain snapshot it came from
UNBORN = "unborn"  # the Autocommit-Head of a snapshot taken before the first commit

# MLflow tags set on every run of an enabled repository.
COMMIT_TAG = "autocommit.commit"  # the run commit (full id)
HEAD_TAG = "autocommit.head"
DIRTY_TAG = "autocommit.dirty"
BRANCH_TAG = "autocommit.branch"
CHANGES_TAG = "autocommit.changes"
SKIPPED_TAG = "autocommit.skipped"
ERROR_TAG = "autocommit.error"
CONTEXT_TAG = "autocommit.context"  # the pinned commit of what ran beyond the working tree
CONTEXT_ERROR_TAG = "autocommit.context.error"  # only when that commit could not be made
MLFLOW_GIT_COMMIT_TAG = "mlflow.source.git.commit"  # MLflow's own, overridden
VERIFIED_TAG = "autocommit.verified"  # on a worker: its files hash to the submitted tree
REPOSITORY_TAG = "autocommit.repository"  # on a worker: where the submitted commit lives
CLEAN_CHANGES = "none"  # autocommit.changes of a run on a clean tree
MAX_TAG_VALUE = 5000  # characters MLflow keeps of a tag value

# Environment variables a launcher passes to a job that runs the code elsewhere
# (``autocommit.launch_env()``, ``autocommit exec``). Settings are ``AUTOCOMMIT_<KEY>``
# too; no setting's name starts with ``run_`` (settings/config.py checks it).
LAUNCH_PREFIX = "AUTOCOMMIT_RUN_"
RUN_COMMIT_VAR = LAUNCH_PREFIX + "COMMIT"  # the run commit pinned at submission
RUN_TREE_VAR = LAUNCH_PREFIX + "TREE"  # its tree: what the worker's files must hash to
RUN_REPOSITORY_VAR = LAUNCH_PREFIX + "REPOSITORY"  # the remote's URL, else the repository's path
RUN_WORKTREE_VAR = LAUNCH_PREFIX + "WORKTREE"  # the submitting working tree's path
RUN_TAGS_VAR = LAUNCH_PREFIX + "TAGS"  # JSON: the tags the run would get there
RUN_MANIFEST_VAR = LAUNCH_PREFIX + "MANIFEST"  # the tree's paths and short ids (compressed)
# Every other ``AUTOCOMMIT_*`` variable must be a setting (a typo is an error), except
# these of the project's own tools: ./dev's virtualenv, the benchmarks' sizes.
SETTING_VARIABLE_PREFIX = "AUTOCOMMIT_"
TOOL_VARIABLES = ("AUTOCOMMIT_VENV",)
TOOL_VARIABLE_PREFIXES = ("AUTOCOMMIT_BENCH_",)

# The files of a context commit (README "What exactly ran").
CONTEXT_ENVIRONMENT = "environment.txt"
CONTEXT_SESSION = "session.py"
CONTEXT_DATA = "data.json"
CONTEXT_DEPENDENCIES = "dependencies.json"
CONTEXT_FILES = frozenset(
    {CONTEXT_ENVIRONMENT, CONTEXT_SESSION, CONTEXT_DATA, CONTEXT_DEPENDENCIES}
)
CONTEXT_MESSAGE = "autocommit: what the run executed beyond its working tree\n"

OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256, in full


def quote_path(path: str) -> str:
    """A path as a trailer holds it: as is, or in double quotes with C-style escapes
    when it has control characters, quotes, backslashes or surrounding spaces."""
    if path.isprintable() and '"' not in path and "\\" not in path and path == path.strip():
        return path
    escaped = path.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return f'"{escaped}"'


def unquote_path(text: str) -> str:
    """The inverse of :func:`quote_path`."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            return text[1:-1].encode("ascii").decode("unicode_escape")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return text
    return text
