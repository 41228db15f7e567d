"""Commit objects: their text, their id, and writing several with one git process.

A snapshot that tags an MLflow run writes two commits: the snapshot and the run commit,
which names the snapshot's id in a trailer (:mod:`autocommit.engine.run_commit`). Made with
``git commit-tree``, that is two processes one after the other. Here the text of both is
made first, the snapshot's id computed from it, and ``git hash-object -t commit
--stdin-paths`` writes both in one go; the ids git answers are checked against ours.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import NamedTuple

from autocommit.errors import GitCommandError
from autocommit.gitio import git
from autocommit.gitio.loose_objects import LooseObjects
from autocommit.gitio.objects import object_id
from autocommit.gitio.piped import PipedGit
from autocommit.gitio.repo import Worktree

STALE_TEXT_AGE = 600.0  # seconds: a commit text this old was left by a killed process
_TEXT_PREFIX = "commit-"
# Characters git strips from both ends of a name or an email (``crud`` in git's ident.c).
_CRUD = ".,:;<>\"\\'"
# Characters that would end the name or email early in a commit header: left out.
_DELIMITERS = str.maketrans("", "", "<>\n")


def _without_crud(text: str) -> str:
    """``text`` as git writes it into an identity line."""
    stripped = text.strip("".join(chr(c) for c in range(33)) + _CRUD)
    return stripped.translate(_DELIMITERS)


class Identity(NamedTuple):
    """Who wrote a commit, as git writes it: ``Name <email>`` (the date comes later)."""

    name: str
    email: str

    @classmethod
    def of(cls, name: str, email: str, fallback: Identity) -> Identity:
        """The identity git would write for ``name`` and ``email``; ``fallback`` where
        either would come out empty (git refuses an empty name)."""
        clean_name, clean_email = _without_crud(name), _without_crud(email)
        if not clean_name or not clean_email:
            return fallback
        return cls(clean_name, clean_email)

    def line(self, when: float) -> str:
        """``Name <email> <seconds> <+hhmm>`` at ``when`` in the local time zone."""
        seconds = int(when)
        offset = time.localtime(seconds).tm_gmtoff // 60
        sign = "-" if offset < 0 else "+"
        hours, minutes = divmod(abs(offset), 60)
        return f"{self.name} <{self.email}> {seconds} {sign}{hours:02d}{minutes:02d}"


def commit_text(tree: str, parents: list[str], author: str, committer: str, message: str) -> bytes:
    """The raw commit object, byte for byte what ``git commit-tree`` writes for these."""
    header = [f"tree {tree}", *(f"parent {p}" for p in parents)]
    header += [f"author {author}", f"committer {committer}"]
    return ("\n".join(header) + "\n\n" + message).encode(errors="surrogateescape")


class CommitWriter:
    """Writes commit objects, several per request: as loose objects from Python
    (:mod:`autocommit.gitio.loose_objects`) where ``loose`` allows it, else through
    ``git hash-object -t commit -w --stdin-paths`` (one process, kept between requests
    like the other pipes).

    ``kind`` ``blob`` or ``tree`` writes those objects instead, from their raw content."""

    def __init__(self, root: Path, state_dir: Path, *, kept: bool = False,
                 kind: str = "commit", loose: LooseObjects | None = None) -> None:  # fmt: skip
        self._state_dir = state_dir  # where the texts wait for git to read them
        self._kind = kind
        self._loose = loose
        args = ["hash-object", "-t", kind, "-w", "--no-filters", "--stdin-paths"]
        self._git = PipedGit(root, args, kept=kept)

    def start(self) -> None:
        """Start git now, so that its start-up overlaps with whatever comes before (not
        when the objects are written from Python)."""
        if self._loose is None or not self._loose.allowed:
            self._git.start()

    def write(self, texts: list[bytes], like: str | None = None) -> list[str]:
        """Store each text; returns their ids. ``like``: an object id of the repository
        (its hash algorithm), needed for blobs and trees written from Python; a commit
        names its tree."""
        if like is None and texts and self._kind == "commit":
            like = texts[0].partition(b"\n")[0].removeprefix(b"tree ").decode()
        if self._loose is not None and self._loose.allowed and like:
            return [self._loose.write(self._kind, text, like) for text in texts]
        import tempfile  # here: objects are mostly written from Python (LooseObjects)

        paths: list[str] = []
        try:
            for text in texts:
                fd, path = tempfile.mkstemp(prefix=_TEXT_PREFIX, dir=self._state_dir)
                paths.append(path)
                with os.fdopen(fd, "wb") as file:
                    file.write(text)
            request = "".join(git.c_quote(p) + "\n" for p in paths).encode()
            written = self._git.ask(request, len(paths))
        finally:
            for path in paths:
                os.unlink(path)
        if written is None:
            raise self._git.failure()
        expected = [object_id(self._kind, text, written[0]) for text in texts]
        if written != expected:
            raise GitCommandError(["hash-object", "-t", self._kind], 128,
                                  f"git stored {written}, expected {expected}")  # fmt: skip
        return written

    def close(self) -> None:
        self._git.close()


def write_commits(worktree: Worktree, texts: list[bytes]) -> list[str]:
    """Store each commit text (from Python, else with a git process of its own); returns
    their ids."""
    loose = LooseObjects(worktree.common_dir / "objects")
    with contextlib.closing(CommitWriter(worktree.root, worktree.state_dir, loose=loose)) as w:
        return w.write(texts)


def remove_stale_texts(state_dir: Path) -> None:
    """Delete commit texts a killed process left behind (live ones are seconds old)."""
    cutoff = time.time() - STALE_TEXT_AGE
    with contextlib.suppress(OSError):
        for entry in os.scandir(state_dir):
            if entry.name.startswith(_TEXT_PREFIX) and entry.stat().st_mtime < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
