"""A run's change summary from the daemon's kept ``diff-tree`` is the one git gives for
the same two trees: new, removed, binary and edited files, names with newlines and with
the text that ends an answer, one answer after another from the same process."""

from __future__ import annotations

from pathlib import Path

from autocommit.engine.change_summary import KeptDiff, changes_since_head
from autocommit.engine.snapshot import take_snapshot
from autocommit.gitio.repo import find_worktree
from tests.support.git import git, new_repository
from tests.support.readme import says


def _porcelain(root: Path, base: str, tree: str) -> str:
    """git's own account of the change (porcelain ``diff``, as the summary was before)."""
    return git(root, "diff", "--no-ext-diff", "--no-textconv", "--no-renames", "--numstat",
               "--summary", "--shortstat", "-z", base, tree)  # fmt: skip


def test_the_kept_diff_answers_as_git_does_whatever_the_names(tmp_path: Path) -> None:
    says("the change summary comes from one `git diff-tree --stdin` the daemon keeps")
    root = new_repository(tmp_path / "repo", {"train.py": "lr = 0.1\n", "gone.txt": "x\n",
                                              "data.bin": "\0\1\2"})  # fmt: skip
    worktree = find_worktree(root)
    head = git(root, "rev-parse", "HEAD").strip()
    head_tree = git(root, "rev-parse", "HEAD^{tree}").strip()
    kept = KeptDiff(root)
    try:
        changes = [
            {"train.py": "lr = 0.2\nepochs = 3\n"},
            {"odd\nname.py": "a\n", "autocommit-end-\nend.py": "b\n"},
            {"data.bin": "\0\1\2\3"},
            {},
        ]
        for n, files in enumerate(changes):
            for name, text in files.items():
                (root / name).write_text(text)
            if n == 0:
                (root / "gone.txt").unlink()
            snap = take_snapshot(worktree)
            assert snap.head == head and snap.head_tree == head_tree
            told = kept.diff(head_tree, snap.tree)
            assert told is not None
            one_shot = git(root, "diff-tree", "-r", "--no-renames", "--numstat", "--summary",
                           "--shortstat", "-z", head_tree, snap.tree)  # fmt: skip
            assert told.decode() == one_shot == _porcelain(root, head, snap.tree)
            summary = changes_since_head(worktree, snap, kept)
            total = one_shot.rsplit("\0", 1)[-1].strip().splitlines()
            assert summary.startswith(total[0] if total else "mode or metadata"), summary
    finally:
        kept.close()


def test_a_kept_diff_that_died_is_replaced(tmp_path: Path) -> None:
    root = new_repository(tmp_path / "repo", {"a.py": "a\n"})
    tree = git(root, "rev-parse", "HEAD^{tree}").strip()
    (root / "a.py").write_text("b\n")
    worktree = find_worktree(root)
    snap = take_snapshot(worktree)
    kept = KeptDiff(root)
    try:
        assert kept.diff(tree, snap.tree) is not None
        kept._git._proc.kill()  # type: ignore[union-attr]
        kept._git._proc.wait()  # type: ignore[union-attr]
        expected = kept.diff(tree, snap.tree)  # git started again
        assert expected is not None and b"a.py" in expected
        pid = kept._git._proc.pid  # type: ignore[union-attr]
        kept.restart()
        assert kept.diff(tree, snap.tree) == expected
        assert kept._git._proc.pid != pid  # type: ignore[union-attr]
    finally:
        kept.close()
