"""The ways of writing a whole file (atomic, over, checked), and the one size formatter."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from autocommit import state_files
from autocommit.settings.config import format_size, parse_size


def test_an_atomic_write_replaces_the_file_with_the_mode_asked(tmp_path: Path) -> None:
    path = tmp_path / "post-commit"
    path.write_text("old, and longer than the new content\n")
    old = os.umask(0o077)
    try:
        state_files.write_atomically(path, b"#!/bin/sh\n", mode=0o755)
    finally:
        os.umask(old)
    assert path.read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    state_files.write_atomically(path, b"x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["post-commit"]  # no temporary left


def test_a_write_over_keeps_the_inode_and_cuts_the_old_tail(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state_files.write_over(path, b"a long first content")
    inode = path.stat().st_ino
    state_files.write_over(path, b"short")
    assert path.read_bytes() == b"short"
    assert path.stat().st_ino == inode  # written in place, no rename
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_checked_write_cut_short_or_mixed_reads_as_nothing(tmp_path: Path) -> None:
    path = tmp_path / "scan-cache.json"
    state_files.write_checked(path, b'{"much": "longer, older content"}')
    state_files.write_checked(path, b'{"new": 1}')
    assert state_files.read_checked(path) == b'{"new": 1}'
    whole = path.read_bytes()
    path.write_bytes(whole[:-3])  # a crash before the last bytes landed
    assert state_files.read_checked(path) is None
    path.write_bytes(b'{"new": 2}' + whole[len(b'{"new": 1}') :])  # new text, old checksum
    assert state_files.read_checked(path) is None


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (2048, "2.0 KiB"),
        (6 * 1024**2, "6.0 MiB"),
        (3 * 1024**3 // 2, "1.5 GiB"),
        (5 * 1024**4, "5120.0 GiB"),
    ],
)
def test_sizes_read_as_parse_size_writes_them(size: int, text: str) -> None:
    assert format_size(size) == text
    assert abs(parse_size(text.replace(" ", "")) - size) <= size * 0.05
