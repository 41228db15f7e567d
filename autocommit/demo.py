"""The demo: three MLflow runs on uncommitted code, each tagged with its exact snapshot.

    python -m autocommit.demo [--dir DIR] [--clean]

In a scratch directory it creates a small experiment repository (a ridge regression on
the diabetes dataset that ships with scikit-learn: no network), enables autocommit,
starts the daemon, and runs the training script three times with code edits in between
and no commit. It then shows what each run recorded, the code difference between the
first and the last run, and checks out the first run's code to prove it is identical.
Exits non-zero if any step did not hold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

TRAIN_PY = '''\
"""Ridge regression on scikit-learn's diabetes dataset, tracked with MLflow."""
import mlflow
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

ALPHA = 1.0

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
mlflow.set_experiment("diabetes")
with mlflow.start_run() as run:
    model = Ridge(alpha=ALPHA).fit(X_train, y_train)
    rmse = mean_squared_error(y_test, model.predict(X_test)) ** 0.5
    mlflow.log_param("alpha", ALPHA)
    mlflow.log_metric("rmse", rmse)
    print(f"run {run.info.run_id}: alpha={ALPHA} rmse={rmse:.2f}")
'''

FEATURES_PY = '''\
"""Feature engineering added during the experiment (never committed)."""
from sklearn.preprocessing import PolynomialFeatures


def expand(X):
    return PolynomialFeatures(degree=2, include_bias=False).fit_transform(X)
'''

STEP = "\033[1m==>\033[0m " if sys.stdout.isatty() else "==> "


class DemoFailure(Exception):
    pass


def say(text: str) -> None:
    print(f"\n{STEP}{text}", flush=True)


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str], show: bool = True) -> str:
    if show:
        print(f"$ {' '.join(cmd)}", flush=True)
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DemoFailure(f"`{' '.join(cmd)}` failed: {proc.stderr.strip() or proc.stdout}")
    if show and proc.stdout.strip():
        print(textwrap.indent(proc.stdout.rstrip(), "  "), flush=True)
    return proc.stdout


def check(condition: bool, claim: str) -> None:
    if not condition:
        raise DemoFailure(f"check failed: {claim}")
    print(f"  ok: {claim}", flush=True)


def tree_of(cwd: Path, rev: str, env: dict[str, str]) -> dict[str, str]:
    listing = run(["git", "ls-tree", "-r", "--full-tree", rev], cwd, env, show=False)
    entries = (line.split("\t", 1) for line in listing.splitlines())
    return {path: meta for meta, path in entries}


def worktree_matches(tree: dict[str, str], directory: Path, env: dict[str, str]) -> bool:
    """Every file of ``tree`` is in ``directory`` with the same mode and bytes, and no more."""
    present = {
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(directory).parts
    }
    if present != set(tree):
        return False
    for path, meta in tree.items():
        mode, _, sha = meta.split()
        actual = run(["git", "hash-object", str(directory / path)], directory, env, show=False)
        executable = os.access(directory / path, os.X_OK)
        if actual.strip() != sha or executable != (mode == "100755"):
            return False
    return True


def story(workdir: Path, env: dict[str, str]) -> None:
    repo = workdir / "experiment"
    repo.mkdir()
    ac = [sys.executable, "-m", "autocommit"]
    python = [sys.executable]

    say("A small experiment repository with one commit")
    (repo / "train.py").write_text(TRAIN_PY)
    (repo / ".gitignore").write_text("mlruns/\n*.db\n")
    run(["git", "init", "-q", "-b", "main"], repo, env)
    run(["git", "add", "-A"], repo, env, show=False)
    run(["git", "commit", "-q", "-m", "ridge baseline"], repo, env)
    head = run(["git", "rev-parse", "HEAD"], repo, env, show=False).strip()

    say("Enable autocommit (installs the hooks, starts the watch daemon)")
    run([*ac, "init"], repo, env)

    say("Run 1: the committed code")
    run([*python, "train.py"], repo, env)

    say("Run 2: edit alpha without committing, run again")
    (repo / "train.py").write_text(TRAIN_PY.replace("ALPHA = 1.0", "ALPHA = 0.1"))
    run([*python, "train.py"], repo, env)

    say("Run 3: add polynomial features in a new, untracked file, run again")
    (repo / "features.py").write_text(FEATURES_PY)
    third = TRAIN_PY.replace("ALPHA = 1.0", "ALPHA = 0.1").replace(
        "X, y = load_diabetes(return_X_y=True)\n",
        "from features import expand\n\nX, y = load_diabetes(return_X_y=True)\nX = expand(X)\n",
    )
    (repo / "train.py").write_text(third)
    run([*python, "train.py"], repo, env)

    say("What MLflow recorded")
    runs = recorded_runs(repo, env)
    check(len(runs) == 3, "three runs were recorded")
    print(f"  {'run':34} {'autocommit.commit':14} {'dirty':6} {'HEAD':9} changes")
    for r in runs:
        print(
            f"  {r['run_id']:34} {r['commit'][:12]:14} {r['dirty']:6} {r['head'][:7]:9} "
            f"{r['changes'].splitlines()[-1] if r['changes'] else '(clean)'}"
        )
    check(all(r["head"] == head for r in runs), "all three ran on the same HEAD commit")
    check(len({r["commit"] for r in runs}) == 3, "yet each run has its own snapshot commit")
    check(runs[0]["commit"] == head, "run 1 (clean tree) is tagged with HEAD itself")
    check(
        all(r["mlflow_commit"] == r["commit"] for r in runs),
        "mlflow.source.git.commit shows the snapshot too (MLflow UI)",
    )
    for r, source in zip(runs, (TRAIN_PY, TRAIN_PY.replace("1.0", "0.1"), third), strict=True):
        shown = run(["git", "show", f"{r['commit']}:train.py"], repo, env, show=False)
        check(shown == source, f"run {r['run_id'][:8]}'s snapshot holds the train.py it ran")
    check(not run(["git", "branch", "--list", "autocommit*"], repo, env, show=False).strip(),
          "no branch of yours was created; `git status` still shows your edits")  # fmt: skip

    say("The code difference between run 1 and run 3")
    run([*ac, "diff", runs[0]["run_id"], runs[2]["run_id"]], repo, env)

    say("Reproduce run 1 in a new worktree; your working tree is untouched")
    target = workdir / "run1-code"
    run([*ac, "checkout", runs[0]["run_id"], str(target)], repo, env)
    check(
        worktree_matches(tree_of(repo, runs[0]["commit"], env), target, env),
        "the checkout is byte-identical to run 1's code",
    )
    check("features.py" not in os.listdir(target), "run 1 had no features.py, and neither has it")

    say("Stop the daemon")
    run([*ac, "stop"], repo, env)
    print(
        "\nTo browse these runs in the MLflow UI (unless you passed --clean):\n"
        f"  {Path(sys.executable).parent / 'mlflow'} ui "
        f"--backend-store-uri {env['MLFLOW_TRACKING_URI']}\n"
    )


def recorded_runs(repo: Path, env: dict[str, str]) -> list[dict[str, str]]:
    """The demo's runs, oldest first, read back through MLflow's own client."""
    script = textwrap.dedent(
        """
        import json, mlflow
        runs = mlflow.search_runs(experiment_names=["diabetes"], output_format="list",
                                  order_by=["attributes.start_time ASC"])
        print(json.dumps([{
            "run_id": r.info.run_id,
            "commit": r.data.tags.get("autocommit.commit", ""),
            "head": r.data.tags.get("autocommit.head", ""),
            "dirty": r.data.tags.get("autocommit.dirty", ""),
            "changes": r.data.tags.get("autocommit.changes", ""),
            "mlflow_commit": r.data.tags.get("mlflow.source.git.commit", ""),
        } for r in runs]))
        """
    )
    import json

    data: list[dict[str, str]] = json.loads(run([sys.executable, "-c", script], repo, env, False))
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autocommit.demo", description=__doc__)
    parser.add_argument("--dir", type=Path, help="scratch directory (default: a new temp dir)")
    parser.add_argument(
        "--clean", action="store_true", help="delete the scratch directory at the end"
    )
    args = parser.parse_args(argv)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="autocommit-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{workdir / 'experiment' / 'mlflow.db'}",
        GIT_AUTHOR_NAME=env.get("GIT_AUTHOR_NAME", "Demo User"),
        GIT_AUTHOR_EMAIL=env.get("GIT_AUTHOR_EMAIL", "demo@example.com"),
        GIT_COMMITTER_NAME=env.get("GIT_COMMITTER_NAME", "Demo User"),
        GIT_COMMITTER_EMAIL=env.get("GIT_COMMITTER_EMAIL", "demo@example.com"),
        PYTHONWARNINGS="ignore",
    )
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    started = time.monotonic()
    try:
        story(workdir, env)
    except DemoFailure as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "autocommit", "-C", str(workdir / "experiment"),
                        "stop"], capture_output=True, env=env)  # fmt: skip
        if not args.clean:
            print(f"scratch directory (delete it when done): {workdir}", file=sys.stderr)
        return 1
    finally:
        if args.clean:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"demo finished in {time.monotonic() - started:.0f}s: every check held.")
    if not args.clean:
        print(f"scratch directory (delete it when done): {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
