"""The private index: autocommit's own staging area, never the user's ``.git/index``.

One per working tree, under ``<git-dir>/autocommit/``. It is kept between snapshots so a
snapshot only re-reads the paths that changed. A full reconcile re-seeds it from a copy
of the user's index (keeping the stat data, so unchanged files are not re-hashed) and
then stages the whole working tree into it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import filelock

from autocommit.errors import AutocommitError
from autocommit.repo import Worktree


@dataclass
class IndexState:
    """What the private index was last reconciled against."""

    user_index: list[int] | None = None  # (mtime_ns, size, inode) of the user's index
    rules: str = ""  # fingerprint of the exclusion settings in force
    skipped: dict[str, str] = field(default_factory=dict)  # path → why it is left out


class PrivateIndex:
    def __init__(self, worktree: Worktree) -> None:
        self.worktree = worktree
        self.dir = worktree.state_dir
        self.path = self.dir / "index"
        self._state_path = self.dir / "index.json"
        self._lock_path = self.dir / "snapshot.lock"

    @property
    def env(self) -> dict[str, str]:
        return {"GIT_INDEX_FILE": str(self.path)}

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        """Exclusive use of the private index and this worktree's shadow refs.

        An advisory ``flock``: the kernel drops it when its holder dies, so a killed
        snapshot never leaves a lock behind. Any git ``*.lock`` file found while holding
        it is therefore stale and removed.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(self._lock_path, timeout=timeout)
        try:
            with lock:
                self._remove_stale_git_locks()
                yield
        except filelock.Timeout as exc:
            raise AutocommitError(
                f"another snapshot of {self.worktree.root} has been running for {timeout:.0f}s",
                "wait for it, or check `autocommit status`",
            ) from exc

    def _remove_stale_git_locks(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(self.path) + ".lock")

    def remove_stale_ref_lock(self, ref: str) -> None:
        """Drop ``<ref>.lock`` left by a killed ``update-ref`` (call only while locked)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.worktree.common_dir / (ref + ".lock"))

    def user_index_signature(self) -> list[int] | None:
        try:
            info = os.stat(self.worktree.git_dir / "index")
        except FileNotFoundError:
            return None
        return [info.st_mtime_ns, info.st_size, info.st_ino]

    def reseed_from_user_index(self) -> None:
        """Replace the private index by a copy of the user's index.

        The copy keeps the file's mtime: git's racy-timestamp check compares entries
        against it, so a file changed in the same instant the user's index was written
        is still re-hashed.
        """
        user_index = self.worktree.git_dir / "index"
        temporary = self.dir / "index.seed"
        try:
            shutil.copy2(user_index, temporary)
        except FileNotFoundError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)  # unborn repository: start from an empty index
            return
        os.replace(temporary, self.path)

    def load_state(self) -> IndexState | None:
        if not self.path.exists():
            return None
        try:
            raw = json.loads(self._state_path.read_text(encoding="utf-8"))
            return IndexState(
                user_index=raw.get("user_index"),
                rules=str(raw.get("rules", "")),
                skipped={str(k): str(v) for k, v in raw.get("skipped", {}).items()},
            )
        except (OSError, ValueError, AttributeError):
            return None

    def save_state(self, state: IndexState) -> None:
        temporary = self._state_path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps(
                {"user_index": state.user_index, "rules": state.rules, "skipped": state.skipped}
            ),
            encoding="utf-8",
        )
        os.replace(temporary, self._state_path)
