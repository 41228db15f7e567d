"""autocommit.log_files: lines appended to a 0600 log rotated by the standard library."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from autocommit import log_files


def test_a_line_is_stamped_and_the_log_rotates_into_one_backup(tmp_path: Path) -> None:
    path = tmp_path / "hooks.log"
    old = os.umask(0)
    try:
        for number in range(30):
            log_files.append_line(path, f"post-commit: line {number:02}", max_bytes=200)
    finally:
        os.umask(old)
    backup = path.with_name("hooks.log.1")
    assert not path.with_name("hooks.log.2").exists()
    for log in (path, backup):
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
        assert log.stat().st_size <= 200
    lines = backup.read_text().splitlines() + path.read_text().splitlines()
    assert lines[-1].endswith("post-commit: line 29")
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d post-commit: line \d\d", x) for x in lines
    )
    assert [int(x[-2:]) for x in lines] == list(range(30 - len(lines), 30))


def test_a_log_that_cannot_be_written_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        log_files.append_line(tmp_path / "missing" / "hooks.log", "x", max_bytes=100)
