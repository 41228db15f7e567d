"""``autocommit log``: the shadow branch's snapshots, as a table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.readme import says


def test_the_skipped_column_counts_what_was_left_out(enabled: Path) -> None:
    says("counted in the `skipped` column of `autocommit log` (how many were left out; "
         "`autocommit log --json` lists them)")  # fmt: skip
    (enabled / ".env").write_text("API_KEY=1\n")
    (enabled / "id.pem").write_text("-----BEGIN-----\n")
    (enabled / "train.py").write_text("lr = 0.3\n")
    assert run_cli(enabled, "snapshot").returncode == 0

    table = run_cli(enabled, "log").stdout.splitlines()
    header = table[0].split()
    assert header == ["time", "snapshot", "files", "skipped", "summary"]
    row = table[1].split()  # time is two words: date and hour
    assert row[4] == "2"  # the skipped column: a count, not the paths
    assert ".env" not in table[1]

    (entry,) = json.loads(run_cli(enabled, "log", "--json").stdout)
    assert sorted(entry["skipped"]) == [
        ".env (secret-looking name)",
        "id.pem (secret-looking name)",
    ]
