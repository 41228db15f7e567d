"""autocommit's own readers of git's files next to GitPython doing the same thing.

GitPython is installed with every MLflow; autocommit reads some of git's formats itself
(``objects.py``: loose objects and one ``cat-file --batch``; ``refs.py``: loose refs and
``packed-refs``; ``run_tags.worktree_at``: the ``.git`` file of a linked worktree;
``repo.find_worktree``: one ``git rev-parse``). Each reader and its GitPython counterpart
are timed alternately in the same rounds, on the benchmark repositories, each answer
checked equal first. GitPython's default object database is ``GitCmdObjectDB`` (two
persistent ``git cat-file`` processes); ``GitDB`` (pure Python) is measured too, though
GitPython 3.2 deprecates it. The import cost of GitPython is measured in fresh
interpreters: alone, after autocommit's readers and after ``import mlflow``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import closing
from functools import partial
from pathlib import Path

import git as gitpython  # GitPython

from autocommit.gitio import objects, refs
from autocommit.gitio.objects import ObjectReader, TreeEntry, diff_trees
from autocommit.gitio.repo import Worktree, find_worktree
from autocommit.tracking.run_tags import repository_root, worktree_at
from benchmarks.common import Row, file_path, fmt_ms, git, make_repo, ratio, size_label

FAST_ROUNDS = 300  # in-process reads (tens of microseconds)
PROCESS_ROUNDS = 60  # anything that starts a git process
IMPORT_ROUNDS = 15
BUDGET = 60.0  # seconds of rounds per comparison, at most (see _alternate)
MIN_ROUNDS = 5

Times = list[float]
Entries = dict[str, tuple[str, str]]  # name -> (mode, sha) of a tree


def _alternate(actions: dict[str, Callable[[], object]], rounds: int) -> dict[str, Times]:
    """Wall-clock seconds of each action, the actions taking turns (order rotating per
    round) so that the machine's load falls on all of them alike; one untimed warm-up.
    Fewer rounds (at least :data:`MIN_ROUNDS`) where the warm-up says ``rounds`` would
    take more than :data:`BUDGET` seconds (GitPython's diff of 10k paths at 100k files
    takes seconds a call)."""
    names = list(actions)
    times: dict[str, Times] = {name: [] for name in names}
    began = time.perf_counter()
    for name in names:
        actions[name]()
    one_round = time.perf_counter() - began
    rounds = max(MIN_ROUNDS, min(rounds, int(BUDGET / max(one_round, 1e-9))))
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start = time.perf_counter()
            actions[name]()
            times[name].append(time.perf_counter() - start)
    return times


def _us(times: Times) -> str:
    """Microseconds for reads far below a millisecond, else :func:`fmt_ms`."""
    if statistics.median(times) >= 0.001:
        return fmt_ms(times)
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(times) * 1e6:.0f} µs (p95 {p95 * 1e6:.0f})"


class Fixture:
    """A repository of ``files`` files: a packed first commit (refs packed too), then a
    loose commit changing one file and another changing every tenth file; a linked
    worktree; branch ``packed`` left in ``packed-refs``, ``master`` a loose ref."""

    def __init__(self, tmp: Path, files: int) -> None:
        self.root = make_repo(tmp / "repo", files)
        git(self.root, "branch", "-q", "packed")
        git(self.root, "pack-refs", "--all", "--prune")
        self.packed_commit = git(self.root, "rev-parse", "HEAD").strip()
        (self.root / "pkg1/mod0/file1.py").write_text("VALUE = 'one change'\n")
        git(self.root, "-c", "gc.auto=0", "commit", "-q", "-am", "one file")
        self.loose_commit = git(self.root, "rev-parse", "HEAD").strip()
        for i in range(0, files, 10):
            rel = file_path(i, files)
            (self.root / rel).write_text(f"VALUE = 'changed {i}'\n")
        git(self.root, "-c", "gc.auto=0", "commit", "-q", "-am", "every tenth file")
        self.wide_commit = git(self.root, "rev-parse", "HEAD").strip()
        self.branch = git(self.root, "symbolic-ref", "HEAD").strip()
        self.linked = tmp / "linked"
        git(self.root, "worktree", "add", "-q", "-b", "linked", str(self.linked), "packed")
        self.worktree = find_worktree(self.root)

    def tree_of(self, commit: str) -> str:
        return git(self.root, "rev-parse", f"{commit}^{{tree}}").strip()

    def is_loose(self, sha: str) -> bool:
        return (self.worktree.common_dir / "objects" / sha[:2] / sha[2:]).is_file()


def _ours_entries(entries: dict[str, TreeEntry] | None) -> Entries:
    assert entries is not None
    return {name: (e.mode, e.sha) for name, e in entries.items()}


def _gitpython_entries(tree: gitpython.Tree) -> Entries:
    return {o.name: (f"{o.mode:o}", o.hexsha) for o in tree}


def _ours_commit_and_tree(reader: ObjectReader, sha: str) -> Entries:
    objects._commits.clear()  # each round reads the commit again
    reader.forget_trees()
    info = reader.commit(sha)
    assert info is not None
    return _ours_entries(reader.tree(info.tree))


def _ours_cold(fx: Fixture, sha: str) -> Entries:
    with closing(ObjectReader(fx.root, fx.worktree.common_dir / "objects")) as reader:
        return _ours_commit_and_tree(reader, sha)


def _gitpython_commit_and_tree(repo: gitpython.Repo, sha: str) -> Entries:
    # commit.tree, not repo.tree(sha): a Tree looked up by id has no path, and listing
    # its entries raises AttributeError (GitPython 3.2.1).
    return _gitpython_entries(repo.commit(sha).tree)


def _gitpython_cold(fx: Fixture, sha: str) -> Entries:
    with gitpython.Repo(fx.root) as repo:  # closing it ends its cat-file processes
        return _gitpython_commit_and_tree(repo, sha)


def _gitdb_repo(root: Path) -> gitpython.Repo:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # GitPython 3.2 deprecates GitDB
        return gitpython.Repo(root, odbt=gitpython.GitDB)


def _object_rows(fx: Fixture, size: str) -> list[Row]:
    rows: list[Row] = []
    with (
        closing(ObjectReader(fx.root, fx.worktree.common_dir / "objects")) as reader,
        gitpython.Repo(fx.root) as cmd_repo,
        _gitdb_repo(fx.root) as db_repo,
    ):
        for kind, sha in (("loose", fx.loose_commit), ("packed", fx.packed_commit)):
            assert fx.is_loose(sha) == (kind == "loose"), f"the {kind} commit is not {kind}"
            actions: dict[str, Callable[[], Entries]] = {
                "ours": partial(_ours_commit_and_tree, reader, sha),
                "cmd": partial(_gitpython_commit_and_tree, cmd_repo, sha),
                "gitdb": partial(_gitpython_commit_and_tree, db_repo, sha),
                "ours cold": partial(_ours_cold, fx, sha),
                "cmd cold": partial(_gitpython_cold, fx, sha),
            }
            answers = [action() for action in actions.values()]
            assert all(a == answers[0] for a in answers), "the readers disagree"
            t = _alternate(dict(actions), PROCESS_ROUNDS * 2)
            what = f"read commit + root tree by id ({kind} objects)"
            ours_how = (
                "objects.py reads the file and inflates it, no process"
                if kind == "loose"
                else "objects.py asks its running cat-file --batch"
            )
            rows += [
                Row(what, size, _us(t["ours"]), "GitPython repo.commit(sha).tree, default "
                    "GitCmdObjectDB", _us(t["cmd"]), ratio(t["ours"], t["cmd"]),
                    f"reader and Repo already open; {ours_how}; GitPython asks cat-file "
                    "--batch-check then --batch"),
                Row(what, size, _us(t["ours"]), "GitPython, odbt=GitDB (pure Python, "
                    "deprecated in 3.2)", _us(t["gitdb"]), ratio(t["ours"], t["gitdb"]),
                    "reader and Repo already open"),
                Row(what + ", from nothing", size, _us(t["ours cold"]),
                    "GitPython: git.Repo(root) + the same reads + close",
                    _us(t["cmd cold"]), ratio(t["ours cold"], t["cmd cold"]),
                    "what one run without the daemon pays: processes started and ended"),
            ]  # fmt: skip
    t = _alternate({"repo": lambda: gitpython.Repo(fx.root).close()}, PROCESS_ROUNDS * 2)
    rows.append(Row("construct git.Repo(root) (+ close)", size, "—", "GitPython",
                    _us(t["repo"]), "—",
                    "no git process; cat-file starts at the first read"))  # fmt: skip
    return rows


def _reference_commit(repo: gitpython.Repo, ref: str) -> str:
    return str(gitpython.Reference(repo, ref).commit.hexsha)


def _listed_commit(repo: gitpython.Repo, ref: str) -> str:
    return str(next(r for r in repo.refs if r.path == ref).commit.hexsha)


def _rev_parse(repo: gitpython.Repo, ref: str) -> str:
    return str(repo.git.rev_parse("--verify", ref))  # ref: a full name, refs/…


def _ref_rows(fx: Fixture, size: str) -> list[Row]:
    rows: list[Row] = []
    with gitpython.Repo(fx.root) as repo:
        for kind, ref in (("loose", fx.branch), ("packed", "refs/heads/packed")):
            loose_file = (fx.worktree.common_dir / ref).is_file()
            assert loose_file == (kind == "loose"), f"{ref} is not a {kind} ref"
            actions: dict[str, Callable[[], str | None]] = {
                "ours": partial(refs.read_ref, fx.worktree, ref),
                "deref": partial(gitpython.SymbolicReference.dereference_recursive, repo, ref),
                "reference": partial(_reference_commit, repo, ref),
                "refs": partial(_listed_commit, repo, ref),
                "rev-parse": partial(_rev_parse, repo, ref),
            }
            answers = {action() for action in actions.values()}
            assert len(answers) == 1, f"the ref readers disagree: {answers}"
            t = _alternate(dict(actions), FAST_ROUNDS)
            what = f"read a ref ({kind}{'' if kind == 'loose' else ' in packed-refs'})"
            rows += [
                Row(what, size, _us(t["ours"]), name, _us(t[key]), ratio(t["ours"], t[key]), note)
                for key, name, note in (
                    ("deref", "GitPython SymbolicReference.dereference_recursive",
                     "GitPython's own ref-file reader, the same work"),
                    ("reference", "GitPython Reference(repo, path).commit",
                     "adds an object-type lookup through cat-file --batch-check"),
                    ("refs", "GitPython repo.refs, then .commit",
                     "lists every ref first"),
                    ("rev-parse", "GitPython repo.git.rev_parse", "one git process"),
                )
            ]  # fmt: skip
    return rows


def _same_place(worktree: Worktree, repo: gitpython.Repo) -> bool:
    return (
        Path(str(repo.working_tree_dir)) == worktree.root
        and Path(repo.git_dir).resolve() == worktree.git_dir.resolve()
        and Path(repo.common_dir).resolve() == worktree.common_dir.resolve()
    )


def _plugin_discovery(start: Path) -> Worktree:
    root = repository_root(start)
    assert root is not None
    return worktree_at(root)


def _gitpython_discovery(start: Path) -> gitpython.Repo:
    repo = gitpython.Repo(start, search_parent_directories=True)
    repo.close()
    return repo


def _discovery_rows(fx: Fixture, size: str) -> list[Row]:
    rows: list[Row] = []
    for kind, start in (
        ("a subdirectory", fx.root / "pkg1" / "mod1"),
        ("a linked worktree's subdirectory", fx.linked / "pkg1" / "mod1"),
    ):
        wt = find_worktree(start)
        assert _plugin_discovery(start) == wt, "worktree_at disagrees with find_worktree"
        assert _same_place(wt, _gitpython_discovery(start)), "GitPython finds another place"
        t = _alternate(
            {
                "rev-parse": partial(find_worktree, start),
                "plugin": partial(_plugin_discovery, start),
                "gitpython": partial(_gitpython_discovery, start),
            },
            PROCESS_ROUNDS * 2,
        )
        what = f"find the repository from {kind}"
        rows += [
            Row(what + ": repo.find_worktree", size, _us(t["rev-parse"]),
                "git.Repo(path, search_parent_directories=True)", _us(t["gitpython"]),
                ratio(t["rev-parse"], t["gitpython"]), "find_worktree runs one git rev-parse"),
            Row(what + ": the plugin's repository_root + worktree_at", size, _us(t["plugin"]),
                "git.Repo(path, search_parent_directories=True)", _us(t["gitpython"]),
                ratio(t["plugin"], t["gitpython"]), "parents stat'ed, the .git file read"),
        ]  # fmt: skip
    return rows


def _changes(diffs: gitpython.DiffIndex[gitpython.Diff]) -> list[tuple[str, str]]:
    return sorted((str(d.change_type), str(d.b_path or d.a_path)) for d in diffs)


def _gitpython_diff(repo: gitpython.Repo, old: str, new: str) -> list[tuple[str, str]]:
    return _changes(repo.tree(old).diff(repo.tree(new), no_renames=True))


def _diff_rows(fx: Fixture, size: str) -> list[Row]:
    rows: list[Row] = []
    with (
        closing(ObjectReader(fx.root, fx.worktree.common_dir / "objects")) as reader,
        gitpython.Repo(fx.root) as repo,
    ):
        for kind, old_commit, new_commit in (
            ("one file changed", fx.packed_commit, fx.loose_commit),
            ("every tenth file changed", fx.loose_commit, fx.wide_commit),
        ):
            old, new = fx.tree_of(old_commit), fx.tree_of(new_commit)

            def ours(old: str = old, new: str = new) -> list[tuple[str, str]]:
                reader.forget_trees()
                changes = diff_trees(reader, old, new, limit=10**9)
                assert changes is not None
                return sorted(changes)

            def commit_diff(
                old_commit: str = old_commit, new_commit: str = new_commit
            ) -> list[tuple[str, str]]:
                return _changes(repo.commit(old_commit).diff(new_commit, no_renames=True))

            def diff_tree(old: str = old, new: str = new) -> list[tuple[str, str]]:
                out = git(fx.root, "diff-tree", "-r", "--name-status", "-z", old, new)
                fields = out.split("\0")[:-1]
                return sorted(zip(fields[::2], fields[1::2], strict=True))

            actions: dict[str, Callable[[], list[tuple[str, str]]]] = {
                "ours": ours,
                "tree": partial(_gitpython_diff, repo, old, new),
                "commit": commit_diff,
                "diff-tree": diff_tree,
            }
            answers = [action() for action in actions.values()]
            assert all(a == answers[0] for a in answers), f"the diffs disagree ({kind})"
            t = _alternate(dict(actions), PROCESS_ROUNDS)
            what = f"tree diff, {kind} ({len(answers[0])} paths)"
            rows += [
                Row(what, size, _us(t["ours"]), name, _us(t[key]), ratio(t["ours"], t[key]), note)
                for key, name, note in (
                    ("tree", "GitPython Tree.diff(Tree)", "runs git diff-tree, parses --raw -z"),
                    ("commit", "GitPython commit.diff(commit)", "the same, from commit ids"),
                    ("diff-tree", "git diff-tree -r --name-status (subprocess)",
                     "what snapshot.summary falls back to beyond 20000 entries"),
                )
            ]  # fmt: skip
    return rows


_IMPORT_PROBE = """
import sys, time
if sys.argv[1] == "git after mlflow":
    import mlflow
if sys.argv[1] == "git after readers":
    import autocommit.gitio.objects, autocommit.gitio.refs, autocommit.gitio.repo
start = time.perf_counter()
if sys.argv[1] == "readers":
    import autocommit.gitio.objects, autocommit.gitio.refs, autocommit.gitio.repo
else:
    import git
print(time.perf_counter() - start)
"""


def _import_rows() -> list[Row]:
    """``import git`` in fresh interpreters: alone, on top of autocommit's readers (what the
    hooks, the CLI and the daemon would add) and on top of ``import mlflow``."""
    cases = ("readers", "git", "git after readers", "git after mlflow")
    times: dict[str, Times] = {case: [] for case in cases}
    for _ in range(IMPORT_ROUNDS):
        for case, kept in times.items():
            proc = subprocess.run(
                [sys.executable, "-c", _IMPORT_PROBE, case],
                capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
            )  # fmt: skip
            kept.append(float(proc.stdout.strip().splitlines()[-1]))
    ours = times["readers"]
    rounds = f"{IMPORT_ROUNDS} fresh interpreters each"
    return [
        Row("import autocommit.gitio.objects, .refs, .repo (fresh interpreter)", "-", fmt_ms(ours),
            "import git (GitPython), alone", fmt_ms(times["git"]), ratio(ours, times["git"]),
            rounds + "; both include the standard-library modules they pull in"),
        Row("import git on top of autocommit's readers", "-", fmt_ms(times["git after readers"]),
            "—", "—", "—", "what a hook process, the CLI or the daemon would add"),
        Row("import git on top of import mlflow", "-", fmt_ms(times["git after mlflow"]),
            "—", "—", "—", "import mlflow does not import git; MLflow's git context "
            "(registered before plugins) imports it in start_run"),
    ]  # fmt: skip


def run(sizes: tuple[int, ...]) -> list[Row]:
    rows = _import_rows()
    for files in sizes:
        size = size_label(files)
        with tempfile.TemporaryDirectory(prefix="bench-readers-") as tmp:
            fx = Fixture(Path(tmp), files)
            rows += _object_rows(fx, size)
            rows += _ref_rows(fx, size)
            rows += _discovery_rows(fx, size)
            rows += _diff_rows(fx, size)
    return rows


if __name__ == "__main__":
    for row in run((1000,)):
        print(row)
