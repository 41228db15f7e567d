"""The one error type the CLI turns into a one-line message and a non-zero exit."""

from __future__ import annotations


class AutocommitError(Exception):
    """A failure a user can act on: what happened, and what to do about it."""

    exit_code = 1

    def __init__(self, what: str, todo: str = "") -> None:
        self.what = what
        self.todo = todo
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.what}; {self.todo}" if self.todo else self.what


class GitCommandError(AutocommitError):
    """A git subprocess failed in a way autocommit did not expect."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        reason = _reason(stderr)
        super().__init__(
            f"git {' '.join(args[:3])} failed (exit {returncode}): {reason}",
            "nothing of yours was changed; fix what git reports and try again",
        )
        self.returncode = returncode
        self.stderr = stderr


def _reason(stderr: str) -> str:
    """The line of git's stderr that says why: its first ``fatal:``/``error:`` line (a
    fetch from a path that is no repository says so there, then adds generic advice),
    else its last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "no message"
    return next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[-1])
