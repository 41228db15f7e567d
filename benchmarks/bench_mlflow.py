"""What the MLflow plugin adds to ``mlflow.start_run``, and what importing it costs.

Overhead = median time of ``start_run`` with the plugin minus the median without it (the
provider taken out of MLflow's registry), same MLflow, same sqlite store, runs
interleaved. Before every run one file is edited, and the run starts with no pause.
Without the daemon the overhead is compared with the naive snapshot (copy the index,
``git add -A``, ``write-tree``, ``commit-tree``); with the daemon with the targets
(<= 8 ms at the median, <= 15 ms at the 95th percentile, at every size), and broken
down into its steps: those of the plugin in the MLflow process (timed by wrapping the
functions it calls) and those of the daemon (as its sync answer reports them).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import Row, bench_repo, fmt_ms, git, median_ms, p95_ms, size_label

REPEAT = {1000: 40, 10000: 25, 100000: 12, 1_000_000: 12}
NAIVE = "naive snapshot: copy index + add -A + write-tree + commit-tree"


def _repeat(files: int) -> int:
    return REPEAT.get(files, 10)


@contextlib.contextmanager
def _plugin_removed() -> Iterator[None]:
    """MLflow exactly as without autocommit installed: our provider out of the registry."""
    from mlflow.tracking.context.registry import _run_context_provider_registry as registry

    kept = list(registry._registry)
    registry._registry[:] = [p for p in kept if type(p).__name__ != "AutocommitRunContextProvider"]
    try:
        yield
    finally:
        registry._registry[:] = kept


class _Editor:
    """Changes one file before each run, as someone iterating on code does."""

    def __init__(self, root: Path) -> None:
        self.path = root / "pkg0" / "mod0" / "file0.py"
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        self.path.write_text(f"# file 0\nVALUE = {self.count}\n")


def _time_start_run(edit: Callable[[], None], tagged: bool) -> float:
    import mlflow

    edit()
    os.sync()  # no run pays for the disk writes of the one before (or of the baseline)
    start = time.perf_counter()
    with mlflow.start_run() as run:
        pass
    elapsed = time.perf_counter() - start
    if "autocommit.error" in run.data.tags:
        raise RuntimeError(run.data.tags["autocommit.error"])
    if ("autocommit.commit" in run.data.tags) != tagged:
        raise RuntimeError(f"expected the run {'' if tagged else 'not '}to be tagged")
    return elapsed


def _side_by_side(edit: Callable[[], None], repeat: int, tagged: bool = True,
                  baseline: Callable[[], float] | None = None,
                  ) -> tuple[list[float], list[float], list[float]]:  # fmt: skip
    """start_run times with and without the plugin, and the ``baseline``'s, interleaved
    (after one warm-up each), so that all three see the same machine load; each starts
    after ``os.sync()``, so that none pays for the disk writes of the one before."""
    with_plugin: list[float] = []
    without: list[float] = []
    baselines: list[float] = []
    _time_start_run(edit, tagged)
    with _plugin_removed():
        _time_start_run(edit, False)
    for _ in range(repeat):
        with_plugin.append(_time_start_run(edit, tagged))
        with _plugin_removed():
            without.append(_time_start_run(edit, False))
        if baseline is not None:
            baselines.append(baseline())
    return with_plugin, without, baselines


class _Phases:
    """Where ``start_run``'s time goes, run by run: each instrumented step's duration in
    the MLflow process, and the daemon's own account of the sync (its answer's ``phases``).

    Wraps the functions the plugin calls (module attributes, looked up at each call), so
    the code measured is the code that runs; put back on exit.
    """

    # (module, function, phase): the steps of a run in the MLflow process
    STEPS = (
        ("autocommit.tracking.launch", "find_source", "find the repository, read settings"),
        ("autocommit.tracking.environment", "environment_text", "context: environment.txt"),
        ("autocommit.tracking.session", "session_text", "context: session.py"),
        ("autocommit.tracking.data_files", "data_json", "context: data.json"),
        ("autocommit.tracking.dependencies", "dependencies_json", "context: dependencies.json"),
        ("autocommit.daemon.client", "request", "daemon request (socket round trip, total)"),
        ("autocommit.engine.run_pin", "RunPin.ensure", "run commit by the run's process"),
        ("autocommit.engine.run_pin", "RunPin.ensure_context",
         "context commit by the run's process"),
    )  # fmt: skip

    def __init__(self) -> None:
        self.runs: list[dict[str, float]] = []
        self._run: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> _Phases:
        import importlib

        from mlflow.tracking.context.registry import _run_context_provider_registry as registry

        for module_name, name, phase in self.STEPS:
            owner: Any = importlib.import_module(module_name)
            for part in name.split(".")[:-1]:
                owner = getattr(owner, part)
            self._wrap(owner, name.split(".")[-1], phase)
        for provider in registry._registry:
            ours = type(provider).__name__ == "AutocommitRunContextProvider"
            label = "autocommit plugin (in_context + tags)" if ours else "MLflow's own providers"
            self._wrap(provider, "in_context", label)
            self._wrap(provider, "tags", label)
        return self

    def __exit__(self, *exc: object) -> None:
        for undo in reversed(self._undo):
            undo()

    def _wrap(self, owner: Any, name: str, phase: str) -> None:
        real = getattr(owner, name)
        had_own = name in vars(owner)  # a class attribute, or one set on the instance

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                result = real(*args, **kwargs)
            finally:
                self._run[phase] = self._run.get(phase, 0.0) + time.perf_counter() - start
            if phase.startswith("daemon request") and isinstance(result, dict):
                for step, ms in (result.get("phases") or {}).items():
                    self._run[f"daemon: {step}"] = ms / 1000
            return result

        setattr(owner, name, timed)
        self._undo.append(
            (lambda: setattr(owner, name, real)) if had_own else (lambda: delattr(owner, name))
        )

    def start_run(self, edit: Callable[[], None]) -> float:
        self._run = {}
        elapsed = _time_start_run(edit, tagged=True)
        self._run["start_run with the plugin"] = elapsed
        self.runs.append(self._run)
        return elapsed

    def rows(self, label: str, plain: list[float]) -> list[Row]:
        """One row per phase: median and p95 over the runs (0 for a run without it)."""
        names: list[str] = []
        for run in self.runs:
            names += [n for n in run if n not in names]
        daemon = [n for n in names if n.startswith("daemon: ")]
        wait = [r.get("daemon request (socket round trip, total)", 0.0) - sum(
            r.get(n, 0.0) for n in daemon) for r in self.runs]  # fmt: skip
        ours = [r.get("autocommit plugin (in_context + tags)", 0.0) for r in self.runs]
        # The context is gathered while the daemon snapshots: inside the request.
        inside = [n for n in names if n not in daemon and not n.startswith(("autocommit plugin",
                  "MLflow's", "start_run", "daemon request", "context: "))]  # fmt: skip
        own = [o - sum(r.get(n, 0.0) for n in inside) - r.get(
            "daemon request (socket round trip, total)", 0.0) for o, r in zip(
            ours, self.runs, strict=True)]  # fmt: skip
        figures = {n: [r.get(n, 0.0) for r in self.runs] for n in names}
        figures["daemon: socket, JSON, thread start (round trip minus the daemon's steps)"] = wait
        figures["the plugin's own Python (the plugin minus the steps above)"] = own
        baseline = f"{median_ms(plain):.1f} ms (p95 {p95_ms(plain):.1f})"
        return [Row(f"start_run phase, daemon running: {name}", label, fmt_ms(times),
                    "MLflow's start_run without the plugin", baseline, "-",
                    "medians over the same runs; the daemon's steps as it reports them")
                for name, times in figures.items()]  # fmt: skip


def _breakdown(edit: Callable[[], None], repeat: int, label: str) -> list[Row]:
    """Where each run's time went, with the daemon running, beside MLflow without the
    plugin (interleaved); and the overhead against the targets."""
    plain: list[float] = []
    with _Phases() as phases:
        phases.start_run(edit)  # warm-up
        phases.runs.clear()
        for _ in range(repeat):
            phases.start_run(edit)
            with _plugin_removed():
                plain.append(_time_start_run(edit, False))
        rows = phases.rows(label, plain)
    ours = [r["start_run with the plugin"] for r in phases.runs]
    overhead = [o - statistics.median(plain) for o in ours]
    rows[:0] = [
        Row("start_run overhead, daemon running (breakdown runs)", label,
            f"{median_ms(overhead):.1f} ms (p95 {p95_ms(overhead):.1f})",
            "MLflow's start_run without the plugin", fmt_ms(plain), "-",
            "target <= 8 ms p50, <= 15 ms p95; overhead = each run minus the median "
            "without the plugin; the context is gathered during the daemon request"),
    ]  # fmt: skip
    return rows


def _context_in_sync(root: Path, edit: Callable[[], None], repeat: int, label: str) -> Row:
    """What writing a run's context costs the daemon's sync: the same sync for a run
    with this process's context files and without, alternated, an edit before each (so
    that every context commit is new)."""
    from autocommit.daemon import client
    from autocommit.tracking import context, run_tags

    target = run_tags.find_target(root)
    assert target is not None
    worktree = run_tags.worktree_at(root)
    like = git(root, "rev-parse", "HEAD").strip()
    files = context.context_files(worktree, target.settings, like)
    timed: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeat + 1):
        for with_context in (True, False):
            edit()
            start = time.perf_counter()
            synced = client.sync_for_run(worktree, context=files if with_context else None)
            timed[with_context].append(time.perf_counter() - start)
            made = synced is not None and synced[1] is not None and synced[1].context
            if with_context != bool(made):
                raise RuntimeError("the daemon did not write the run's context")
    ours, plain = timed[True][1:], timed[False][1:]
    extra = statistics.median(ours) - statistics.median(plain)
    return Row("daemon sync for a run, with its context files (commit and pin made with "
               "the run commit)", label, fmt_ms(ours), "the same sync without them",
               fmt_ms(plain), f"+{extra * 1000:.1f} ms",
               "the context commit costs the run's process nothing more")  # fmt: skip


_CONTEXT_PROBE = """
import os, statistics, sys, time
from pathlib import Path
import mlflow
entry, repeat = Path(sys.argv[1]), int(sys.argv[2])
parts = ("ENVIRONMENT", "SESSION", "DATA", "DEPENDENCIES")
timed = {True: [], False: []}
for round in range(repeat + 2):
    for with_context in (True, False):
        for part in parts:
            if with_context:
                os.environ.pop(f"AUTOCOMMIT_CONTEXT_{part}", None)
            else:
                os.environ[f"AUTOCOMMIT_CONTEXT_{part}"] = "false"
        entry.write_text(f"VALUE = {round}, {with_context}\\n")
        start = time.perf_counter()
        run = mlflow.start_run()
        timed[with_context].append(time.perf_counter() - start)
        mlflow.end_run()
        if ("autocommit.context" in run.data.tags) != with_context:
            raise SystemExit(f"context tag wrong: {run.data.tags}")
print(*(t for key in (True, False) for t in timed[key][2:]))
"""


def _user_process(
    root: Path, scratch: Path, probe: str, repeat: int
) -> tuple[list[float], list[float]]:
    """Run ``probe`` in a fresh process like a user's: it imports nothing from a git
    working tree (this benchmark imports itself from autocommit's checkout, which is then
    a dependency of every run it makes: each run describes that tree too). Its output:
    the times of runs of two kinds, half each."""
    env = {name: value for name, value in os.environ.items() if name != "MLFLOW_EXPERIMENT_ID"}
    env |= {"MLFLOW_TRACKING_URI": f"sqlite:///{scratch / 'probe.db'}", "PYTHONPATH": ""}
    entry = root / "pkg0" / "mod0" / "file0.py"
    command = [sys.executable, "-c", probe, str(entry), str(repeat)]
    proc = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"a probe failed: {proc.stderr[-2000:]}")
    times = [float(t) for t in proc.stdout.split()]
    return times[: len(times) // 2], times[len(times) // 2 :]


_USER_PROBE = """
import sys, time
from pathlib import Path
entry, repeat = Path(sys.argv[1]), int(sys.argv[2])
sys.argv[0] = str(entry)  # the entry script MLflow looks up: a file of the repository
import mlflow
from mlflow.tracking.context.registry import _run_context_provider_registry as registry
every = list(registry._registry)
without = [p for p in every if type(p).__name__ != "AutocommitRunContextProvider"]
timed = {True: [], False: []}
for round in range(repeat + 2):
    for tagged in (True, False):
        registry._registry[:] = every if tagged else without
        entry.write_text(f"VALUE = {round}, {tagged}\\n")
        start = time.perf_counter()
        run = mlflow.start_run()
        timed[tagged].append(time.perf_counter() - start)
        mlflow.end_run()
        if "autocommit.error" in run.data.tags:
            raise SystemExit(run.data.tags["autocommit.error"])
        if ("autocommit.commit" in run.data.tags) != tagged:
            raise SystemExit(f"expected the run {'' if tagged else 'not '}to be tagged")
print(*(t for key in (True, False) for t in timed[key][2:]))
"""


def _user_overhead(root: Path, scratch: Path, repeat: int, label: str,
                   naive: list[float]) -> Row:  # fmt: skip
    """``start_run``'s overhead with the daemon running, in a process like a user's: runs
    with the plugin and without, alternated, an edit before each."""
    ours, plain = _user_process(root, scratch, _USER_PROBE, repeat)
    factor = _overhead(ours, plain) / statistics.median(naive)
    overhead = [o - statistics.median(plain) for o in ours]
    return Row("start_run overhead, daemon running", label,
               f"{_overhead_text(ours, plain)}, overhead p95 {p95_ms(overhead):.1f}", NAIVE,
               f"{median_ms(naive):.1f} ms", f"{factor:.2f}x naive",
               "target <= 8 ms p50, <= 15 ms p95; in a process like a user's (its code from "
               "this repository only), the whole context on")  # fmt: skip


def _context_side_by_side(root: Path, scratch: Path, repeat: int, label: str) -> Row:
    """What a run's whole context adds to ``start_run`` in a process that already made
    runs, daemon running: runs with every ``context_*`` part on and off, alternated, an
    edit before each, in a process like a user's."""
    ours, plain = _user_process(root, scratch, _CONTEXT_PROBE, repeat)
    extra = statistics.median(ours) - statistics.median(plain)
    return Row("start_run, daemon running, a run's whole context (environment, session, "
               "data, dependencies) on", label, fmt_ms(ours), "the same runs with every "
               "context_* setting off", fmt_ms(plain), f"+{extra * 1000:.1f} ms",
               "target: the context adds <= 5 ms to a later run of a process")  # fmt: skip


_GIT_CONTEXT_PROBE = """
import sys, time
sys.argv[0] = sys.argv[1]  # the entry script MLflow looks up: a file of the repository
import mlflow
from mlflow.tracking.context.git_context import GitRunContext
start = time.perf_counter()
provider = GitRunContext()
provider.in_context() and provider.tags()
first = time.perf_counter() - start
start = time.perf_counter()
provider.in_context() and provider.tags()
print(first, time.perf_counter() - start)
"""


def _git_context_cost(entry: Path) -> Row:
    """MLflow's own git provider (imports GitPython) in a fresh process, first and later
    runs: the baseline start_run includes it, so it is no part of the overhead."""
    root = entry.parent
    proc = subprocess.run([sys.executable, "-c", _GIT_CONTEXT_PROBE, str(entry)],
                          capture_output=True, text=True, check=True, cwd=root)  # fmt: skip
    first, later = (float(x) for x in proc.stdout.split())
    return Row("MLflow's git context provider (GitPython), first run of a process", "-",
               f"{first * 1000:.1f} ms", "later runs of that process", f"{later * 1000:.2f} ms",
               "-", "MLflow's, with or without the plugin: cached per process")  # fmt: skip


def _naive_snapshot(root: Path, edit: Callable[[], None], scratch: Path) -> float:
    edit()
    env = {**os.environ, "GIT_INDEX_FILE": str(scratch / "naive.index")}
    os.sync()
    start = time.perf_counter()
    shutil.copy2(root / ".git" / "index", scratch / "naive.index")
    subprocess.run(["git", "add", "-A"], cwd=root, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=root, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    subprocess.run(["git", "commit-tree", tree, "-p", "HEAD", "-m", "naive"], cwd=root,
                   env=env, check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - start


def _overhead(with_plugin: list[float], without: list[float]) -> float:
    return max(0.0, statistics.median(with_plugin) - statistics.median(without))


def _overhead_text(with_plugin: list[float], without: list[float]) -> str:
    return (
        f"{_overhead(with_plugin, without) * 1000:.1f} ms overhead "
        f"(start_run {median_ms(with_plugin):.1f} vs {median_ms(without):.1f}, "
        f"p95 {p95_ms(with_plugin):.1f})"
    )


def _set_enabled(root: Path, enabled: bool) -> None:
    """Enable or disable the repository, then let its config settle: the plugin reads
    settings files again until they are a second old (as a user's config long is)."""
    git(root, "config", "autocommit.enabled", "true" if enabled else "false")
    time.sleep(1.1)


def _daemon_usable() -> bool:
    from autocommit.cli import parser as cli

    return {"start", "stop"} <= set(cli.COMMANDS)


@contextlib.contextmanager
def _daemon(root: Path) -> Iterator[None]:
    from autocommit.daemon import client
    from autocommit.gitio.repo import find_worktree

    worktree = find_worktree(root)
    client.start(worktree)
    try:
        yield
    finally:
        client.stop(worktree)


def _measure_size(files: int, scratch: Path) -> list[Row]:
    import mlflow

    label = size_label(files)
    repeat = _repeat(files)
    root = bench_repo(scratch / "repo", files)  # at 1M files, the one kept between runs
    os.chdir(root)
    edit = _Editor(root)
    sys.argv[0] = str(edit.path)  # the "entry script" lives in the benchmark repository
    rows: list[Row] = [_git_context_cost(edit.path)] if files == min(REPEAT) else []

    _set_enabled(root, False)
    off, bare, _ = _side_by_side(edit, repeat, tagged=False)
    rows.append(Row("start_run overhead, repository not enabled", label,
                    _overhead_text(off, bare), "MLflow without the plugin",
                    f"{median_ms(bare):.1f} ms", "-", "settings read from a cache"))  # fmt: skip
    _set_enabled(root, True)

    def naive_snapshot() -> float:
        return _naive_snapshot(root, edit, scratch)

    ours, plain, naive = _side_by_side(edit, repeat, baseline=naive_snapshot)
    factor = _overhead(ours, plain) / statistics.median(naive)
    rows.append(Row("start_run overhead, no daemon", label, _overhead_text(ours, plain),
                    NAIVE, f"{median_ms(naive):.1f} ms", f"{factor:.2f}x naive",
                    "target <= 1.3x naive; includes pin and change summary"))  # fmt: skip

    if _daemon_usable():
        with _daemon(root):
            rows.append(_user_overhead(root, scratch, repeat, label, naive))
            ours, plain, _ = _side_by_side(edit, repeat)
            breakdown = _breakdown(edit, repeat, label)
            breakdown.append(_context_in_sync(root, edit, repeat, label))
            breakdown.append(_context_side_by_side(root, scratch, repeat, label))
        factor = _overhead(ours, plain) / statistics.median(naive)
        rows.append(Row("start_run overhead, daemon running, in this benchmark's process",
                        label, _overhead_text(ours, plain), NAIVE, f"{median_ms(naive):.1f} ms",
                        f"{factor:.2f}x naive", "it imports its own code from autocommit's "
                        "checkout: each run describes that working tree too "
                        "(dependencies.json)"))  # fmt: skip
        rows += breakdown
    else:
        rows.append(Row("start_run overhead, daemon running", label, "n/a", NAIVE, "-", "-",
                        "the daemon is not available in this build"))  # fmt: skip
    mlflow.end_run()
    return rows


_IMPORT_PROBE = """
import statistics, sys, time
start = time.perf_counter()
import mlflow  # imports MLflow's context registry, which imports the plugin
whole = time.perf_counter() - start
times = []
for _ in range(50):
    for name in [m for m in sys.modules if m.split(".")[0] == "autocommit"]:
        del sys.modules[name]
    start = time.perf_counter()
    import autocommit.mlflow_plugin
    times.append(time.perf_counter() - start)
print(statistics.median(times), whole)
"""


def _import_cost() -> Row:
    """The plugin's import cost (fresh each time), next to the ``import mlflow`` it rides on."""
    proc = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], capture_output=True,
                          text=True, check=True, cwd=tempfile.gettempdir())  # fmt: skip
    ours, whole = (float(x) for x in proc.stdout.split())
    return Row("plugin import time (autocommit, autocommit.mlflow_plugin)", "-",
               f"{ours * 1000:.2f} ms", "import mlflow (total)", f"{whole * 1000:.0f} ms",
               f"{100 * ours / whole:.2f}% of it", "imported by `import mlflow`")  # fmt: skip


def run(sizes: tuple[int, ...]) -> list[Row]:
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    rows: list[Row] = [_import_cost()]
    here, entry = Path.cwd(), sys.argv[0]
    previous_uri: Any = os.environ.get("MLFLOW_TRACKING_URI")
    with tempfile.TemporaryDirectory(prefix="autocommit-bench-mlflow-") as tmp:
        scratch = Path(tmp)
        mlflow.set_tracking_uri(f"sqlite:///{scratch / 'mlflow.db'}")
        mlflow.set_experiment(
            experiment_id=mlflow.create_experiment(
                "bench", artifact_location=(scratch / "artifacts").as_uri()
            )
        )
        try:
            for files in sizes:
                size_dir = scratch / f"size{files}"
                size_dir.mkdir()
                rows.extend(_measure_size(files, size_dir))
                os.chdir(here)
                shutil.rmtree(size_dir, ignore_errors=True)
        finally:
            os.chdir(here)
            sys.argv[0] = entry
            mlflow.set_tracking_uri(previous_uri)
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import table
    from benchmarks.common import sizes_from_env

    print(table(run(sizes_from_env((1000, 10000)))))
