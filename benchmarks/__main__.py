"""Run every benchmark and write the results table.

    python -m benchmarks                 # default sizes (1k and 10k files)
    python -m benchmarks --large         # adds 100k files (takes several minutes)
    python -m benchmarks --huge          # adds 1M files in 50k directories to the engine,
                                         # daemon and context benchmarks (the others stop
                                         # at 100k);
                                         # created once (about 2 minutes) under the system
                                         # temp dir and reused
    python -m benchmarks --only engine   # one module: benchmarks/bench_engine.py

Each ``benchmarks/bench_<name>.py`` exposes ``run(sizes: tuple[int, ...]) -> list[Row]``.
The table goes to stdout and to benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import subprocess
import sys
import traceback
from pathlib import Path

from benchmarks.common import HUGE, Row

HERE = Path(__file__).parent
# the ones measured at 1M files, on the repository kept between runs
HUGE_MODULES = frozenset({"engine", "daemon", "context", "mlflow"})


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.strip()}"
    )


def table(rows: list[Row]) -> str:
    lines = [
        "| benchmark | size | autocommit | baseline | baseline figure | ratio | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.benchmark} | {r.size} | {r.autocommit} | {r.baseline_name} | "
            f"{r.baseline} | {r.ratio} | {r.note} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--large", action="store_true", help="also measure 100k files")
    parser.add_argument(
        "--huge",
        action="store_true",
        help="also measure 1M files (engine, daemon, context, MLflow runs; kept in the temp dir)",
    )
    parser.add_argument("--only", action="append", help="run only bench_<ONLY>.py")
    args = parser.parse_args()
    sizes = (1000, 10000) + ((100000,) if args.large else ()) + ((HUGE,) if args.huge else ())
    names = args.only or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    rows: list[Row] = []
    failed: list[str] = []
    for name in names:
        print(f"running benchmarks/bench_{name}.py …", file=sys.stderr, flush=True)
        these = sizes if name in HUGE_MODULES else tuple(n for n in sizes if n < HUGE)
        try:
            rows.extend(importlib.import_module(f"benchmarks.bench_{name}").run(these))
        except Exception:  # the other modules' figures are still printed
            traceback.print_exc()
            failed.append(name)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = (
        f"Measured {stamp} on {machine()}.\n"
        "Medians (p95 where latency matters); each baseline measured in the same run.\n\n"
        + table(rows)
        + "\n"
    )
    print(text)
    if failed:
        print(f"failed: {', '.join(failed)} (see above)", file=sys.stderr)
        return 1
    if not args.only:
        (HERE / "results.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
