"""A git process that answers requests through pipes, one line per item asked.

``hash-object --stdin-paths`` (blobs and commits) and ``mktree --batch`` read requests
on stdin and answer each with an object id on a line of its own; ``diff-tree --stdin``
answers with many lines, up to a line it echoes back. Started on first use,
and again after it died; ``kept`` as for :func:`autocommit.gitio.git.popen` (a daemon keeps
one for its whole life).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from autocommit.errors import GitCommandError
from autocommit.gitio import git


class PipedGit:
    def __init__(self, root: Path, args: Sequence[str], *, kept: bool = False) -> None:
        self._root = root
        self._args = list(args)
        self._kept = kept
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        """Start git unless it runs; True when it was started now (not kept from before)."""
        if self._proc is not None and self._proc.poll() is None:
            return False
        self._proc = git.popen(self._args, self._root, kept=self._kept)
        return True

    def ask(self, data: bytes, count: int) -> list[str] | None:
        """Send ``data`` and read ``count`` answers; None when git stopped answering
        (an error it reported, or it died): :meth:`failure` then says why."""
        answer = self._send(data)
        if answer is None:
            return None
        lines = [answer.readline() for _ in range(count)]
        if not all(line.strip() for line in lines):
            return None
        return [line.decode().strip() for line in lines]

    def ask_until(self, data: bytes, end: bytes) -> bytes | None:
        """Send ``data`` and read lines up to the line ``end`` (which git echoes back at
        the end of its answer), which is left out; None when git stopped answering."""
        answer = self._send(data)
        if answer is None:
            return None
        lines: list[bytes] = []
        while (line := answer.readline()) != end:
            if not line:
                return None
            lines.append(line)
        return b"".join(lines)

    def _send(self, data: bytes) -> IO[bytes] | None:
        """Send ``data`` to git (started if need be); what its answer is read from, None
        when it stopped reading."""
        self.start()
        assert self._proc is not None
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(data)
            stdin.flush()
        except BrokenPipeError:
            return None
        return stdout

    def failure(self) -> GitCommandError:
        """The error of a git that stopped answering, which is ended (the next request
        starts a new one)."""
        proc, self._proc = self._proc, None
        stderr = proc.communicate()[1].decode(errors="replace") if proc else ""
        code = (proc.returncode if proc else None) or 128
        return GitCommandError(self._args, code, stderr or "git stopped answering")

    def close(self) -> None:
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.communicate()  # closes its stdin: git exits
