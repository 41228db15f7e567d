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
        # git's last stderr line is the one that says why (``fatal: …``).
        reason = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
        super().__init__(
            f"git {' '.join(args[:3])} failed (exit {returncode}): {reason}",
            "nothing of yours was changed; fix what git reports and try again",
        )
        self.returncode = returncode
        self.stderr = stderr
