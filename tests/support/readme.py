"""The README's own words and examples, for tests that hold the manual to the behaviour.

A test that checks a README claim names the claim with :func:`says` (it fails as soon as
the sentence is reworded, so the test is revisited with it) and runs the README's
example with :func:`example`: a fenced block right after an HTML comment
``<!-- example: NAME -->``, so the commands a user copies are the commands tested.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


@cache
def text() -> str:
    return README.read_text(encoding="utf-8")


def _flat(words: str) -> str:
    return " ".join(words.split())


def says(claim: str) -> str:
    """``claim``, after checking the README says it (whitespace and line breaks aside)."""
    assert _flat(claim) in _flat(text()), f"the README no longer says: {claim!r}"
    return claim


def example(name: str) -> list[str]:
    """The commands of the README's example ``name``: one per line of its fenced block,
    without prompts (``$ ``) and without trailing ``# comments``."""
    pattern = rf"<!-- example: {re.escape(name)} -->\s*\n```[^\n]*\n(.*?)\n```"
    marker = re.search(pattern, text(), re.S)
    assert marker is not None, f"the README has no example named {name!r}"
    commands = []
    for line in marker.group(1).splitlines():
        line = line.removeprefix("$ ")
        line = _without_comment(line).rstrip()
        if line and not line.startswith("#"):
            commands.append(line)
    return commands


def _without_comment(line: str) -> str:
    """``line`` up to a shell comment: a ``#`` after a blank, outside quotes."""
    quote = ""
    for at, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (at == 0 or line[at - 1].isspace()):
            return line[:at]
    return line
