"""What the last snapshot of a worktree was computed against.

An incremental snapshot edits the previous snapshot's tree for the paths that changed.
That is only right while everything else that decides the tree is unchanged: the
user's index (which paths it tracks), git's configuration and exclude files (ignores, filters,
file modes) and autocommit's exclusion rules. Their fingerprints are kept here; when one
differs the next snapshot scans the whole working tree.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path
from typing import NamedTuple

from autocommit import state_files
from autocommit.errors import GitCommandError
from autocommit.gitio import git, git_inputs
from autocommit.gitio.repo import Worktree
from autocommit.settings import config
from autocommit.settings.config import Settings


class SnapshotState(NamedTuple):
    tree: str  # the tree of the last snapshot, as found in the working tree
    inputs: str  # fingerprint of git's config, exclude files and the exclusion rules
    index_stat: list[int] | None  # the user's index file the last full scan started from
    skipped: dict[str, str]  # path → why it was left out
    file_mode: bool  # core.fileMode: trust the executable bit
    symlinks: bool  # core.symlinks: symbolic links are checked out as links
    untracked: list[str]  # what the last full scan added
    index_digest: str | None  # of the paths, modes and ids that index tracked
    # Paths that index marks skip-worktree or assume-unchanged (their snapshot content is
    # the index's, whatever the working tree holds); None: not known, or too many.
    flagged: list[str] | None


def stat_key(path: Path) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_mtime_ns, info.st_size, info.st_ino]


def inputs_fingerprint(worktree: Worktree, settings: Settings) -> str:
    """Changes whenever one of git's inputs (:mod:`autocommit.gitio.git_inputs`: config, ignore
    and attribute files, wherever they are) or the exclusion rules change."""
    rules = (settings.max_file_size, settings.secret_patterns, settings.exclude,
             settings.include_private)  # fmt: skip
    inputs = git_inputs.files(worktree, read=lambda: _settings_read(worktree))
    text = json.dumps([git_inputs.fingerprint(inputs), repr(rules)])
    return hashlib.sha1(text.encode()).hexdigest()


def _settings_read(worktree: Worktree) -> tuple[tuple[str, str], ...] | None:
    """The settings' ``git config`` read, while it is kept (the files unchanged)."""
    kept = config.kept_git_config(worktree)
    return kept.entries if kept is not None else None


MAX_FLAGGED = 2000  # flagged paths remembered; beyond, every changed path is looked up


class IndexDigest(NamedTuple):
    digest: str
    flagged: list[str] | None  # as SnapshotState.flagged


def is_flagged(tag: str) -> bool:
    """Whether ``ls-files -t -v``'s tag says skip-worktree (``S``) or assume-unchanged
    (lower case): ``git add`` keeps the index's version of such an entry."""
    return tag == "S" or tag.islower()


_FLAGGED = re.compile(rb"(?:^|(?<=\0))(?:S|[a-z]) [^\t\0]*\t([^\0]*)\0")
_CHUNK = 1 << 20


def index_digest(root: Path, index_file: Path | None = None) -> IndexDigest:
    """A digest of what an index tracks (paths, modes, object ids, stages, and the
    skip-worktree and assume-unchanged flags) but not its stat data: ``git status`` and
    IDEs rewrite the index to refresh stat data, which changes nothing a snapshot depends
    on; and the paths it flags. ``index_file``: a copy of the index to read instead of
    the worktree's own (read, never written). The listing is read a chunk at a time: at
    a million files it is about 100 MB, which the daemon should not hold."""
    env = {"GIT_INDEX_FILE": str(index_file)} if index_file else None
    args = ["ls-files", "-z", "--stage", "-t", "-v"]
    proc = git.popen(args, root, env=env)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.close()
    digest = hashlib.sha1()
    flagged: list[str] = []
    rest = b""
    while chunk := proc.stdout.read(_CHUNK):
        digest.update(chunk)
        data = rest + chunk
        end = data.rfind(b"\0") + 1  # whole entries only; the rest waits for the next
        if len(flagged) <= MAX_FLAGGED:
            flagged += [m.group(1).decode(errors="surrogateescape")
                        for m in _FLAGGED.finditer(data, 0, end)]  # fmt: skip
        rest = data[end:]
    stderr = proc.stderr.read()
    if proc.wait() != 0:
        raise GitCommandError(args, proc.returncode, stderr.decode(errors="replace"))
    kept = flagged if len(flagged) <= MAX_FLAGGED else None
    return IndexDigest(digest.hexdigest(), kept)


def _path(worktree: Worktree) -> Path:
    return worktree.state_dir / "state.json"


def load(worktree: Worktree) -> SnapshotState | None:
    """The saved state; None when there is none, or it was cut short by a crash."""
    try:
        text = state_files.read_checked(_path(worktree))
        if text is None:
            return None
        raw = json.loads(text)
        return SnapshotState(
            tree=str(raw["tree"]),
            inputs=str(raw["inputs"]),
            index_stat=raw["index_stat"],
            skipped={str(k): str(v) for k, v in raw.get("skipped", {}).items()},
            file_mode=bool(raw.get("file_mode", True)),
            symlinks=bool(raw.get("symlinks", True)),
            untracked=[str(p) for p in raw.get("untracked", [])],
            index_digest=raw.get("index_digest"),
            flagged=None if raw.get("flagged") is None else [str(p) for p in raw["flagged"]],
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save(worktree: Worktree, state: SnapshotState) -> None:
    """Write the state, followed by a checksum: a write cut short by a crash reads as no
    state at all (the next snapshot is a full scan).

    Written over the old state (:func:`state_files.write_over`), not through a rename: on
    ext4 a file truncated to nothing, or renamed over another, is flushed to disk when
    closed, which cost more than the rest of saving. The checksum makes up for it.
    """
    state_files.write_checked(_path(worktree), json.dumps(state._asdict()).encode())


def forget(worktree: Worktree) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_path(worktree))
