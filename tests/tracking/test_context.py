"""A run's context (``autocommit.context``): environment, data, dependencies, on real git."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import autocommit
from autocommit import contract
from autocommit.gitio.repo import Worktree
from autocommit.tracking import environment
from tests.support.daemon import enable
from tests.support.git import assert_private, git, new_repository, user_state
from tests.support.mlflow import pinned, tree_of
from tests.support.oracle import expected_tree
from tests.support.readme import says


@pytest.fixture
def enabled(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    enable(repo)
    monkeypatch.chdir(repo)
    return repo


def show(root: Path, commit: str, name: str) -> str:
    return git(root, "show", f"{commit}:{name}")


def context_of(root: Path) -> tuple[dict[str, str], str]:
    tags = autocommit.mlflow_tags(root)
    assert contract.ERROR_TAG not in tags, tags
    assert contract.CONTEXT_ERROR_TAG not in tags, tags
    return tags, tags[contract.CONTEXT_TAG]


def test_context_commit_is_pinned_on_the_run_commit(enabled: Path) -> None:
    (enabled / "train.py").write_text("lr = 0.2\n")  # dirty: a run commit of its own
    before = user_state(enabled)
    tags, context = context_of(enabled)
    assert user_state(enabled) == before, "the context touched the user's state"
    assert git(enabled, "rev-parse", f"{context}^@").split() == [tags[contract.COMMIT_TAG]]
    assert context in pinned(enabled)
    names = git(enabled, "ls-tree", "--name-only", context).split()
    parts = [contract.CONTEXT_DATA, contract.CONTEXT_DEPENDENCIES, contract.CONTEXT_ENVIRONMENT]
    assert names == parts  # pytest is no REPL: no session.py
    assert tree_of(enabled, tags[contract.COMMIT_TAG]) == expected_tree(enabled)
    again, same = context_of(enabled)
    assert (again[contract.COMMIT_TAG], same) == (tags[contract.COMMIT_TAG], context)
    git(enabled, "fsck", "--no-progress")
    assert_private(enabled / ".git" / "autocommit")


def test_each_part_can_be_turned_off(enabled: Path) -> None:
    for key in ("contextenvironment", "contextdata", "contextdependencies"):
        git(enabled, "config", f"autocommit.{key}", "false")
    tags = autocommit.mlflow_tags(enabled)
    assert contract.COMMIT_TAG in tags
    assert contract.CONTEXT_TAG not in tags and contract.CONTEXT_ERROR_TAG not in tags
    git(enabled, "config", "autocommit.contextdata", "true")
    _, context = context_of(enabled)
    assert git(enabled, "ls-tree", "--name-only", context).split() == [contract.CONTEXT_DATA]


def test_a_failing_context_never_fails_the_run(
    enabled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> bytes:
        raise OSError("disk on fire")

    monkeypatch.setattr("autocommit.tracking.data_files.data_json", broken)
    tags = autocommit.mlflow_tags(enabled)
    assert tags[contract.COMMIT_TAG] == git(enabled, "rev-parse", "HEAD").strip()
    assert "disk on fire" in tags[contract.CONTEXT_ERROR_TAG]
    assert contract.CONTEXT_TAG not in tags


def test_a_repository_file_may_set_data_paths_but_not_the_switches(enabled: Path) -> None:
    from autocommit.settings import config

    (enabled / ".autocommit.toml").write_text('data_paths = ["inputs/"]\ncontext_session = false\n')
    settings = config.load(enabled)
    assert settings.data_paths == ("inputs/",)
    assert settings.context_session is True


# environment.txt


def test_environment_lists_python_and_the_installed_mlflow(enabled: Path) -> None:
    _, context = context_of(enabled)
    lines = show(enabled, context, contract.CONTEXT_ENVIRONMENT).splitlines()
    assert lines[0].startswith(f"Python {sys.version.split()[0]} ")
    assert f"mlflow=={metadata.version('mlflow')}" in lines
    assert lines[1:] == sorted(lines[1:], key=str.lower)
    own = next(line for line in lines if line.startswith("autocommit=="))
    here = Path(autocommit.__file__).resolve().parents[1]
    assert own.endswith(f"# editable: {here}"), own  # the test venv installs it with -e


def test_an_upgrade_between_two_runs_shows_in_the_environment(
    enabled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = tmp_path / "site-old", tmp_path / "site-new"
    old.mkdir()
    monkeypatch.syspath_prepend(str(old))
    _, first = context_of(enabled)
    install_tiny_package(tmp_path, old, "1.0")  # seen by the mtime of a sys.path directory
    _, second = context_of(enabled)
    # pip --target leaves an old version's metadata behind: the upgrade goes to a directory
    # earlier on sys.path, as a virtualenv's site-packages comes before the user's
    install_tiny_package(tmp_path, new, "2.0")
    monkeypatch.syspath_prepend(str(new))
    _, third = context_of(enabled)
    texts = [show(enabled, c, contract.CONTEXT_ENVIRONMENT) for c in (first, second, third)]
    assert "tinypkg==" not in texts[0]
    assert "tinypkg==1.0" in texts[1].splitlines()
    assert "tinypkg==2.0" in texts[2].splitlines() and "tinypkg==1.0" not in texts[2]


def write_project(source: Path, name: str, version: str, packages: list[str] | None = None
                  ) -> None:  # fmt: skip
    """A ``pyproject.toml`` that setuptools builds (``packages``: named, not found)."""
    listed = f"[tool.setuptools]\npackages = {packages!r}\n" if packages else ""
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\n'
        'build-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n' + listed.replace("'", '"')
    )


def install_tiny_package(scratch: Path, target: Path, version: str) -> None:
    """``pip install --target``: a real distribution, outside the shared virtualenv."""
    source = scratch / f"tinypkg-{version}"
    (source / "tinypkg").mkdir(parents=True)
    (source / "tinypkg" / "__init__.py").write_text(f"VERSION = {version!r}\n")
    write_project(source, "tinypkg", version)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--upgrade",
                    "--target", str(target), str(source)],
                   check=True, capture_output=True)  # fmt: skip


def test_egg_info_written_again_in_place_shows_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``setup.py develop`` rewrites a source tree's ``.egg-info`` in place, which leaves
    the directory holding it as it was: its ``PKG-INFO`` is looked at."""
    source = tmp_path / "source"
    pkg_info = source / "eggpkg.egg-info" / "PKG-INFO"
    pkg_info.parent.mkdir(parents=True)
    pkg_info.write_text("Metadata-Version: 2.1\nName: eggpkg\nVersion: 1.0\n")
    monkeypatch.syspath_prepend(str(source))
    line = f"eggpkg==1.0  # editable: {source}"  # metadata built inside a source tree
    assert line in environment.environment_text().splitlines()
    stamp = source.stat().st_mtime_ns
    with pkg_info.open("r+") as file:  # the same file, written again
        file.write("Metadata-Version: 2.1\nName: eggpkg\nVersion: 2.0\n")
    os.utime(pkg_info, ns=(stamp + 10**9, stamp + 10**9))  # a clock that ticks coarsely
    assert source.stat().st_mtime_ns == stamp
    assert line.replace("1.0", "2.0") in environment.environment_text().splitlines()


def test_the_environment_is_read_once_while_nothing_changes(
    enabled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment.environment_text()
    calls: list[int] = []
    real = environment._compute

    def counted() -> tuple[str, list[str]]:
        calls.append(1)
        return real()

    monkeypatch.setattr(environment, "_compute", counted)
    for _ in range(3):
        environment.environment_text()
    assert calls == []
    monkeypatch.syspath_prepend(str(enabled))
    environment.environment_text()
    assert calls == [1]


# data.json


def write_data(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def data_entries(root: Path, context: str) -> dict[str, dict[str, object]]:
    return {e["path"]: e for e in json.loads(show(root, context, contract.CONTEXT_DATA))}


def test_one_byte_changed_in_ignored_data_changes_exactly_its_entry(enabled: Path) -> None:
    (enabled / ".gitignore").write_text("data/\ndatasets/\n.venv/\n")
    git(enabled, "add", ".gitignore")
    git(enabled, "commit", "-q", "-m", "ignore data")
    write_data(enabled, {
        "data/train.csv": b"a,b\n1,2\n", "data/test.csv": b"a,b\n3,4\n",
        "datasets/images/0.png": b"\x89PNG0", "nested/data/x.bin": b"x",
        ".venv/lib/data/skip.txt": b"never walked", "mlruns/data/skip.txt": b"never walked",
    })  # fmt: skip
    (enabled / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    past = 1_600_000_000
    for name in ("data/train.csv", "data/test.csv"):  # settled: their hashes get cached
        os.utime(enabled / name, (past, past))
    tags, first = context_of(enabled)
    before = data_entries(enabled, first)
    assert sorted(before) == ["data/test.csv", "data/train.csv", "datasets/images/0.png",
                              "nested/data/x.bin"]  # fmt: skip
    blob = git(enabled, "hash-object", "--no-filters", "data/train.csv").strip()
    assert before["data/train.csv"]["blob"] == blob
    assert before["data/train.csv"]["size"] == 8
    (enabled / "data/train.csv").write_bytes(b"a,b\n1,3\n")
    os.utime(enabled / "data/train.csv", (past, past + 1))
    again, second = context_of(enabled)
    assert again[contract.COMMIT_TAG] == tags[contract.COMMIT_TAG], "the code is the same"
    after = data_entries(enabled, second)
    changed = sorted(path for path in before if before[path] != after[path])
    assert changed == ["data/train.csv"]
    assert after["data/train.csv"]["blob"] == git(
        enabled, "hash-object", "--no-filters", "data/train.csv").strip()  # fmt: skip
    assert_private(enabled / ".git" / "autocommit")


def test_data_hashes_are_cached_by_inode_size_and_time(
    enabled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocommit.tracking import data_files

    write_data(enabled, {f"data/{n}.bin": bytes([n]) * 100 for n in range(5)})
    for n in range(5):
        os.utime(enabled / f"data/{n}.bin", (1_600_000_000, 1_600_000_000))
    context_of(enabled)
    from autocommit.gitio.objects import file_blob_id as real

    hashed: list[Path] = []

    def counted(path: Path, like: str) -> str:
        hashed.append(path)
        return real(path, like)

    monkeypatch.setattr(data_files, "file_blob_id", counted)
    data_files._caches.clear()  # as a new process: the cache is read from the state dir
    context_of(enabled)
    assert hashed == []
    (enabled / "data/3.bin").write_bytes(b"\0" * 100)
    context_of(enabled)
    assert hashed == [enabled / "data/3.bin"]
    os.utime(enabled / "data/3.bin", (1_600_000_000, 1_600_000_000))
    context_of(enabled)
    hashed.clear()
    replacement = enabled / "data" / "new.tmp"  # same size and time, another inode
    replacement.write_bytes(b"\1" * 100)
    os.utime(replacement, (1_600_000_000, 1_600_000_000))
    os.replace(replacement, enabled / "data/2.bin")
    _, context = context_of(enabled)
    assert hashed == [enabled / "data/2.bin"]
    assert data_entries(enabled, context)["data/2.bin"]["blob"] == git(
        enabled, "hash-object", "--no-filters", "data/2.bin").strip()  # fmt: skip


def test_a_run_hashes_within_its_budget_and_marks_the_rest_pending(
    enabled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Smallest first, at least one file a run; what is left is listed by size and time,
    marked pending, and hashed by the next runs; ``diff --context`` sees no change in a
    file whose hash was pending in one run and known in the other."""
    from autocommit.reproduce.context import Context, data_differences
    from autocommit.tracking import data_files

    says("a run reads at most 512 MiB of files it has no hash of yet (smallest first, always "
         "at least one file)")  # fmt: skip
    assert data_files.HASH_BUDGET == 512 * 1024**2
    monkeypatch.setattr(data_files, "HASH_BUDGET", 250)
    sizes = {"data/a.bin": 104, "data/b.bin": 1000, "data/c.bin": 100, "data/d.bin": 101,
             "data/e.bin": 102, "data/f.bin": 103}  # fmt: skip
    write_data(enabled, {name: name.encode() * (size // 10) + b"." * (size % 10)
                         for name, size in sizes.items()})  # fmt: skip
    for name in sizes:
        os.utime(enabled / name, (1_600_000_000, 1_600_000_000))
    runs: list[dict[str, dict[str, object]]] = []
    while not runs or any(e["blob"] is None for e in runs[-1].values()):
        runs.append(data_entries(enabled, context_of(enabled)[1]))
        assert len(runs) <= 4, runs
    known = [{path for path, entry in run.items() if entry["blob"]} for run in runs]
    newly = [sorted(now - before) for before, now in zip([set(), *known], known, strict=False)]
    assert newly == [["data/c.bin", "data/d.bin"], ["data/e.bin", "data/f.bin"],
                     ["data/a.bin"], ["data/b.bin"]]  # fmt: skip
    assert runs[0]["data/b.bin"]["fingerprint"] == data_files.PENDING
    assert runs[0]["data/b.bin"]["size"] == 1000
    for name in sizes:
        blob = git(enabled, "hash-object", "--no-filters", name).strip()
        assert runs[-1][name]["blob"] == blob and "fingerprint" not in runs[-1][name]
    first, last = (Context("0" * 40, True, data=list(run.values())) for run in (runs[0], runs[-1]))
    assert data_differences(first, last) == []
    (enabled / "data/b.bin").write_bytes(b"x" * 1000)  # pending in the first run, changed
    changed = Context(
        "0" * 40, True, data=list(data_entries(enabled, context_of(enabled)[1]).values())
    )
    assert data_differences(first, changed) == ["  M  data/b.bin"]


def test_files_and_data_directories_added_between_two_runs_are_listed(
    enabled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process keeps each directory's listing by its inode and times: a file added,
    removed or renamed anywhere (a new ``data/`` deep down too) changes them."""
    from autocommit.tracking import data_files

    monkeypatch.setattr(data_files, "_SETTLED_NS", 0)  # listings kept at once
    write_data(enabled, {"data/a.csv": b"1\n", "data/old.csv": b"2\n", "src/m.py": b""})
    assert sorted(data_entries(enabled, context_of(enabled)[1])) == ["data/a.csv", "data/old.csv"]
    time.sleep(0.05)  # past the clock's resolution: the directories' times move
    write_data(enabled, {"data/b.csv": b"3\n", "src/deep/data/c.csv": b"4\n"})
    os.rename(enabled / "data/old.csv", enabled / "data/new.csv")
    entries = data_entries(enabled, context_of(enabled)[1])
    assert sorted(entries) == ["data/a.csv", "data/b.csv", "data/new.csv", "src/deep/data/c.csv"]


def test_files_over_the_hash_limit_get_size_and_time_only(
    enabled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autocommit.tracking import data_files

    says("files over 2 GiB, secret-looking names and files only their owner may read")
    assert data_files.FULL_HASH_LIMIT == 2 * 1024**3
    monkeypatch.setattr(data_files, "FULL_HASH_LIMIT", 50)
    write_data(enabled, {"data/small.bin": b"s" * 50, "data/large.bin": b"l" * 51})
    entries = data_entries(enabled, context_of(enabled)[1])
    assert entries["data/small.bin"]["blob"] is not None
    assert entries["data/large.bin"]["blob"] is None
    assert entries["data/large.bin"]["fingerprint"] == "size+mtime (over the hash limit)"


def test_data_paths_never_leave_the_repository(enabled: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.csv").write_text("secret numbers\n")
    (enabled / ".autocommit.toml").write_text('data_paths = ["../*.csv", "inputs/"]\n')
    write_data(enabled, {"inputs/a.csv": b"1\n"})
    os.symlink(tmp_path / "outside.csv", enabled / "inputs" / "link.csv")
    _, context = context_of(enabled)
    entries = data_entries(enabled, context)
    assert sorted(entries) == ["inputs/a.csv", "inputs/link.csv"]
    assert entries["inputs/link.csv"]["blob"] is None
    assert entries["inputs/link.csv"]["symlink"] == str(tmp_path / "outside.csv")


# dependencies.json


def make_library(root: Path, name: str) -> None:
    new_repository(root, {f"{name}/__init__.py": "def scale(x):\n    return 2 * x\n"}, "library")
    git(root, "remote", "add", "origin", "https://user:token@example.com/team/lib.git")


def dependency_entries(root: Path, context: str, lib: Path) -> list[dict[str, Any]]:
    """The entries about ``lib`` (the tests themselves come from autocommit's working tree,
    which is listed too)."""
    entries = json.loads(show(root, context, contract.CONTEXT_DEPENDENCIES))
    ours = str(Path(autocommit.__file__).resolve().parents[1])
    assert [e["modules"] for e in entries if e["path"] == ours] == [["tests"]]  # not autocommit
    return [e for e in entries if e["path"] == str(lib.resolve())]


def test_modules_imported_or_reloaded_between_runs_are_looked_at_again(
    enabled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process remembers where each module came from, and what the last run found; a
    module imported since (sys.path unchanged), or imported again from elsewhere under
    the same name, is looked at anew."""
    import importlib

    from autocommit.tracking import dependencies

    first_lib, second_lib = tmp_path / "first", tmp_path / "second"
    make_library(first_lib, "moving_mod")
    make_library(second_lib, "moving_mod")
    monkeypatch.syspath_prepend(str(first_lib))  # before the first look: the same sys.path
    before = [root for root, _ in dependencies.imported_trees(enabled)]
    assert str(first_lib.resolve()) not in before
    assert dependencies.imported_trees(enabled) == dependencies.imported_trees(enabled)
    monkeypatch.delitem(sys.modules, "moving_mod", raising=False)
    importlib.import_module("moving_mod")
    trees = dict(dependencies.imported_trees(enabled))
    assert trees[str(first_lib.resolve())] == ["moving_mod"]
    monkeypatch.syspath_prepend(str(second_lib))
    del sys.modules["moving_mod"]
    importlib.import_module("moving_mod")
    trees = dict(dependencies.imported_trees(enabled))
    assert str(first_lib.resolve()) not in trees
    assert trees[str(second_lib.resolve())] == ["moving_mod"]


def test_an_enabled_dependency_gets_its_exact_working_tree_pinned(
    enabled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "mylib"
    make_library(lib, "mylib_enabled")
    enable(lib)
    (lib / "mylib_enabled" / "__init__.py").write_text("def scale(x):\n    return 3 * x\n")
    (lib / "mylib_enabled" / "new.py").write_text("EXTRA = 1\n")  # untracked, not ignored
    monkeypatch.syspath_prepend(str(lib))
    monkeypatch.setitem(sys.modules, "mylib_enabled", None)  # forgotten at teardown
    del sys.modules["mylib_enabled"]
    __import__("mylib_enabled")  # imported for the run
    before = user_state(lib)
    _, context = context_of(enabled)
    assert user_state(lib) == before
    [entry] = dependency_entries(enabled, context, lib)
    assert entry["modules"] == ["mylib_enabled"]
    assert entry["enabled"] is True and entry["dirty"] is True
    assert entry["head"] == git(lib, "rev-parse", "HEAD").strip()
    assert entry["remote"] == "https://example.com/team/lib.git"  # no credentials
    assert tree_of(lib, entry["commit"]) == expected_tree(lib)
    assert entry["commit"] in pinned(lib)


def test_a_dependency_not_enabled_is_described_and_left_alone(
    enabled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    lib = tmp_path / "otherlib"
    make_library(lib, "mylib_plain")
    (lib / "mylib_plain" / "__init__.py").write_text("X = 2\n")
    monkeypatch.syspath_prepend(str(lib))
    monkeypatch.setitem(sys.modules, "mylib_plain", None)  # forgotten at teardown
    del sys.modules["mylib_plain"]
    __import__("mylib_plain")  # imported for the run
    _, context = context_of(enabled)
    [entry] = dependency_entries(enabled, context, lib)
    assert entry["enabled"] is False and entry["commit"] is None and entry["dirty"] is True
    assert entry["head"] == git(lib, "rev-parse", "HEAD").strip()
    assert git(lib, "for-each-ref", "refs/autocommit/") == ""
    assert not (lib / ".git" / "autocommit").exists()
    assert any(str(lib) in r.getMessage() and "autocommit init" in r.getMessage()
               for r in caplog.records)  # fmt: skip


def test_an_edit_in_a_dependency_between_two_runs_shows_up(
    enabled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, git_calls: list[list[str]]
) -> None:
    """A process keeps each dependency's entry while the tree's stamp is unchanged (no git
    process but the settings' read of a settings file a second old, no snapshot); an edit,
    a commit or an enabled repository's settings change it."""
    from autocommit.tracking import dependencies, tree_stamp

    says("a tree of more than 5000 entries, or one changed in the last two seconds, is "
         "described anew")  # fmt: skip
    assert (tree_stamp.WALK_LIMIT, tree_stamp.SETTLED_NS) == (5000, 2_000_000_000)
    monkeypatch.setattr(tree_stamp, "SETTLED_NS", 0)  # the files were written just now
    plain, lib = (tmp_path / "plain").resolve(), (tmp_path / "enabledlib").resolve()
    make_library(plain, "plain_mod")
    make_library(lib, "enabled_mod")
    enable(lib)
    first = [dependencies._describe(root, ["m"]) for root in (plain, lib)]
    git_calls.clear()
    assert [dependencies._describe(root, ["m"]) for root in (plain, lib)] == first
    assert all(call[:2] == ["config", "-z"] for call in git_calls), git_calls  # just written
    assert [entry["dirty"] for entry in first] == [False, False]
    for root, name in ((plain, "plain_mod"), (lib, "enabled_mod")):
        (root / name / "__init__.py").write_text("def scale(x):\n    return 4 * x\n")
    edited = [dependencies._describe(root, ["m"]) for root in (plain, lib)]
    assert [entry["dirty"] for entry in edited] == [True, True]
    assert edited[1]["commit"] != first[1]["commit"]
    assert tree_of(lib, edited[1]["commit"]) == expected_tree(lib)
    git(plain, "commit", "-q", "-am", "scale by 4")
    committed = dependencies._describe(plain, ["m"])
    assert committed["head"] == git(plain, "rev-parse", "HEAD").strip() != first[0]["head"]
    assert committed["dirty"] is False
    git(lib, "config", "autocommit.enabled", "false")
    assert dependencies._describe(lib, ["m"])["enabled"] is False


def test_a_dependency_is_described_anew_when_its_ignore_rules_outside_the_tree_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The excludes file named by ``core.excludesFile`` changes what git sees in the tree
    without touching it: the stamp covers git's inputs too."""
    from autocommit.tracking import dependencies, tree_stamp

    monkeypatch.setattr(tree_stamp, "SETTLED_NS", 0)
    lib = (tmp_path / "lib").resolve()
    make_library(lib, "lib_mod")
    ignore = tmp_path / "global-ignore"
    ignore.write_text("")
    git(lib, "config", "core.excludesFile", str(ignore))
    before = dependencies._stamp(lib)
    assert before is not None and dependencies._stamp(lib) == before
    ignore.write_text("lib_mod/\n")
    assert dependencies._stamp(lib) != before


def test_a_tree_changed_in_the_last_two_seconds_or_too_large_has_no_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the clock's resolution a second edit could leave the times as they were; a
    tree too large to walk is asked of git, and not walked again."""
    from autocommit.tracking import tree_stamp

    lib, git_dir = tmp_path / "lib", tmp_path / "lib" / ".git"
    make_library(lib, "stamped")
    assert tree_stamp.tree_stamp(lib, git_dir, git_dir) is None
    monkeypatch.setattr(tree_stamp, "SETTLED_NS", 0)
    stamp = tree_stamp.tree_stamp(lib, git_dir, git_dir)
    assert stamp is not None and str(lib / "stamped" / "__init__.py") in {s[0] for s in stamp}
    monkeypatch.setattr(tree_stamp, "_too_large", set())
    monkeypatch.setattr(tree_stamp, "WALK_LIMIT", 3)
    assert tree_stamp.tree_stamp(lib, git_dir, git_dir) is None
    assert lib in tree_stamp._too_large


def test_an_editable_install_from_a_second_enabled_repository_is_recorded_exactly(
    enabled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pip install -e`` for real (into a prefix of its own, whose ``.pth`` files are read
    as at start-up): the dependency's pinned commit is its working tree, uncommitted edit
    included, and environment.txt names the editable source."""
    import site

    lib = (tmp_path / "editlib").resolve()
    make_library(lib, "editlib_pkg")
    write_project(lib, "editlib-pkg", "0.1", packages=["editlib_pkg"])
    (lib / ".gitignore").write_text("*.egg-info/\nbuild/\n")
    git(lib, "add", "-A")
    git(lib, "commit", "-q", "-m", "packaged")
    enable(lib)
    prefix = tmp_path / "prefix"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--prefix", str(prefix), "-e", str(lib)],
                   check=True, capture_output=True)  # fmt: skip
    monkeypatch.setattr(sys, "path", list(sys.path))
    [site_dir] = prefix.glob("lib/python*/site-packages")
    site.addsitedir(str(site_dir))  # its .pth files, as the interpreter reads them
    (lib / "editlib_pkg" / "__init__.py").write_text("def scale(x):\n    return 5 * x\n")
    monkeypatch.setitem(sys.modules, "editlib_pkg", None)  # forgotten at teardown
    del sys.modules["editlib_pkg"]
    module = __import__("editlib_pkg")
    assert Path(str(module.__file__)).resolve() == lib / "editlib_pkg" / "__init__.py"
    _, context = context_of(enabled)
    [entry] = dependency_entries(enabled, context, lib)
    assert entry["enabled"] is True and entry["dirty"] is True
    assert tree_of(lib, entry["commit"]) == expected_tree(lib)
    assert "return 5 * x" in git(lib, "show", f"{entry['commit']}:editlib_pkg/__init__.py")
    lines = show(enabled, context, contract.CONTEXT_ENVIRONMENT).splitlines()
    assert f"editlib-pkg==0.1  # editable: {lib}" in lines


def test_mlflow_runs_get_the_context_through_the_plugin(
    enabled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.create_experiment(f"context-{tmp_path.name}",
                                          artifact_location=(tmp_path / "a").as_uri())  # fmt: skip
    with mlflow.start_run(experiment_id=experiment) as run:
        tags: dict[str, str] = run.data.tags
    context = tags[contract.CONTEXT_TAG]
    assert git(enabled, "rev-parse", f"{context}^@").split() == [tags[contract.COMMIT_TAG]]
    assert context == autocommit.mlflow_tags(enabled)[contract.CONTEXT_TAG]


def test_a_run_with_the_daemon_running_gets_its_context(daemon: Worktree) -> None:
    """The daemon makes and pins the run commit; the run's process adds the context."""
    root = daemon.root
    (root / "train.py").write_text("lr = 0.3\n")
    tags, context = context_of(root)
    assert git(root, "rev-parse", f"{context}^@").split() == [tags[contract.COMMIT_TAG]]
    assert tree_of(root, tags[contract.COMMIT_TAG]) == expected_tree(root)
    assert context in pinned(root)


def test_data_blob_ids_follow_a_sha256_repository(tmp_path: Path) -> None:
    root = tmp_path / "sha256"
    root.mkdir()
    git(root, "init", "-q", "--object-format=sha256")
    (root / "train.py").write_text("lr = 1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    enable(root)
    write_data(root, {"data/a.csv": b"1,2\n"})
    _, context = context_of(root)
    assert len(context) == 64
    [entry] = data_entries(root, context).values()
    assert entry["blob"] == git(root, "hash-object", "--no-filters", "data/a.csv").strip()


def test_data_paths_from_the_repository_record_no_hash_of_a_private_file(enabled: Path) -> None:
    """A cloned repository may widen ``data_paths``; a file only you may read, or with a
    secret-looking name, is still recorded by size and time alone: not even its hash."""
    (enabled / ".autocommit.toml").write_text('data_paths = ["keys/"]\n')
    write_data(enabled, {"keys/notes.txt": b"shared\n", "keys/mine.txt": b"hunter2\n",
                         "keys/api_key.txt": b"k\n"})  # fmt: skip
    (enabled / "keys" / "mine.txt").chmod(0o600)
    (enabled / "keys" / "notes.txt").chmod(0o644)
    (enabled / "keys" / "api_key.txt").chmod(0o644)
    _, context = context_of(enabled)
    entries = data_entries(enabled, context)
    assert entries["keys/notes.txt"]["blob"] is not None
    assert entries["keys/mine.txt"]["blob"] is None
    assert entries["keys/mine.txt"]["fingerprint"] == "size+mtime (readable only by its owner)"
    assert entries["keys/api_key.txt"]["blob"] is None
    assert entries["keys/api_key.txt"]["fingerprint"] == "size+mtime (secret-looking name)"
    private_blob = git(enabled, "hash-object", "--no-filters", "keys/mine.txt").strip()
    assert private_blob not in show(enabled, context, contract.CONTEXT_DATA)
