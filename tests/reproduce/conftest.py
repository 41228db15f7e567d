"""Fixtures of the reproduce tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.git import git


@pytest.fixture
def enabled(enabled: Path) -> Path:
    """``enabled``, with a committed ``.gitignore`` leaving out a virtualenv and logs."""
    (enabled / ".gitignore").write_text(".venv/\n*.log\n")
    git(enabled, "add", ".gitignore")
    git(enabled, "commit", "-q", "-m", "ignore the venv")
    return enabled
