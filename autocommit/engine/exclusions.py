"""Which untracked files a snapshot leaves out, and why.

Only untracked files are ever left out: a file the user already tracks is part of their
code, whatever its name, size or mode. Every file left out is reported with its reason.
"""

from __future__ import annotations

import copy
import functools
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from autocommit.contract import SKIPPED_TRAILER, quote_path
from autocommit.settings.config import Settings, format_size

if TYPE_CHECKING:
    import pathspec

PRIVATE = "readable only by its owner"
SECRET_NAME = "secret-looking name"
NESTED_REPOSITORY = "nested git repository"  # a directory: everything under it is left out
# A file nobody else may read (mode 0600, 0400, 0700) would become readable through the
# object store, whose files are as readable as the repository.
_READABLE_BY_OTHERS = stat.S_IRGRP | stat.S_IROTH


class Skipped(NamedTuple):
    path: str
    reason: str

    def trailer(self) -> str:
        return f"{SKIPPED_TRAILER}: {quote_path(self.path)} ({self.reason})"


class ExclusionRules:
    """The size cap, the secret patterns, owner-only files and the user's own exclusions."""

    def __init__(self, settings: Settings) -> None:
        self._secret_patterns = settings.secret_patterns
        self._exclude = settings.exclude
        self._max_size = settings.max_file_size
        self._include_private = settings.include_private
        self._by_name = True  # see for_known_names

    def for_known_names(self) -> ExclusionRules:
        """These rules for files whose names are known to pass them: only the files
        themselves are looked at (no pattern is compiled)."""
        rules = copy.copy(self)
        rules._by_name = False
        return rules

    def reason_to_skip(self, root: Path, path: str) -> str | None:
        """Why the untracked ``path`` (relative to ``root``) is left out, or None to keep it."""
        if path.endswith("/"):
            return NESTED_REPOSITORY
        if self._by_name and _spec(self._secret_patterns).match_file(path):
            return SECRET_NAME
        if self._by_name and _spec(self._exclude).match_file(path):
            return "excluded by configuration"
        try:
            info = os.lstat(root / path)
        except FileNotFoundError:
            return None  # deleted meanwhile: git records the deletion
        if stat.S_ISREG(info.st_mode):
            if info.st_size > self._max_size:
                return (
                    f"{format_size(info.st_size)}, over max_file_size {format_size(self._max_size)}"
                )
            if not os.access(root / path, os.R_OK):
                return "unreadable"
            if not self._include_private and not info.st_mode & _READABLE_BY_OTHERS:
                return PRIVATE
        return None

    def confidential(self, path: str, info: os.stat_result) -> str | None:
        """Why no trace of ``path``'s content (not even its hash) may be recorded: a
        secret-looking name, or a regular file only its owner may read; None when it
        may. For what a run records beyond its snapshot (data fingerprints)."""
        if _spec(self._secret_patterns).match_file(path):
            return SECRET_NAME
        owner_only = stat.S_ISREG(info.st_mode) and not info.st_mode & _READABLE_BY_OTHERS
        return PRIVATE if owner_only and not self._include_private else None

    def partition(self, root: Path, untracked: list[str]) -> tuple[list[str], list[Skipped]]:
        """Split untracked paths into the ones to snapshot and the ones left out."""
        kept: list[str] = []
        skipped: list[Skipped] = []
        for path in untracked:
            reason = self.reason_to_skip(root, path)
            if reason is None:
                kept.append(path)
            else:
                skipped.append(Skipped(path.rstrip("/"), reason))
        return kept, skipped


@functools.lru_cache(maxsize=16)
def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    """Compiled once per pattern list (a daemon snapshots with the same ones every time),
    when a path is first matched: a snapshot that finds no new untracked file needs none,
    and importing pathspec costs a new process ~10 ms."""
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(patterns)
