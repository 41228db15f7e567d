"""The snapshot engine: working tree → private index → tree → commit → shadow ref.

It knows nothing of the daemon or MLflow. Callers hand it the paths that changed (the
daemon, from file events) or nothing (a full reconcile), and get back the commit whose
tree is exactly the working tree: tracked files plus untracked, not-ignored files, minus
the reported exclusions.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autocommit import config, git, refs
from autocommit.config import Settings
from autocommit.errors import GitCommandError
from autocommit.exclusions import ExclusionRules, Skipped
from autocommit.private_index import IndexState, PrivateIndex
from autocommit.repo import Worktree

HEAD_TRAILER = "Autocommit-Head"
SKIPPED_TRAILER = "Autocommit-Skipped"
UNBORN = "unborn"
MAX_INCREMENTAL_PATHS = 2000


@dataclass(frozen=True)
class Snapshot:
    commit: str  # the snapshot: HEAD itself when the tree is clean
    tree: str
    head: str | None  # HEAD's commit when the snapshot was taken (None: no commits yet)
    head_ref: str | None  # refs/heads/<branch>, or None for a detached HEAD
    shadow_ref: str  # refs/autocommit/heads/<branch> (or the detached chain)
    dirty: bool  # the tree differs from HEAD's
    created: bool  # a new snapshot commit was written
    reconciled: bool  # the whole tree was scanned (not only the given paths)
    skipped: tuple[Skipped, ...]
    summary: str  # one line: what changed since the previous snapshot

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the daemon's socket and ``--json`` output)."""
        data = dataclasses.asdict(self)
        data["skipped"] = [dataclasses.asdict(s) for s in self.skipped]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        fields = dict(data)
        fields["skipped"] = tuple(Skipped(**s) for s in data["skipped"])
        return cls(**fields)


@dataclass(frozen=True)
class _CommitInfo:
    sha: str
    tree: str
    head_trailer: str | None


def _parse_commit(sha: str, body: bytes) -> _CommitInfo:
    text = body.decode(errors="replace")
    header, _, message = text.partition("\n\n")
    tree = header.split("\n", 1)[0].removeprefix("tree ")
    head_trailer = None
    for line in message.splitlines():
        if line.startswith(HEAD_TRAILER + ": "):
            head_trailer = line.split(": ", 1)[1].strip()
    return _CommitInfo(sha, tree, head_trailer)


def _read_commits(root: Path, names: list[str]) -> list[_CommitInfo | None]:
    """Resolve several refs to commits in one ``git cat-file --batch``."""
    proc = git.run(["cat-file", "--batch"], root, input="".join(n + "\n" for n in names).encode())
    data, pos, found = proc.stdout, 0, []
    for _ in names:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode().split()
        pos = end + 1
        if len(header) == 3:
            size = int(header[2])
            body = data[pos : pos + size]
            pos += size + 1
            found.append(_parse_commit(header[0], body) if header[1] == "commit" else None)
        else:
            found.append(None)  # "<name> missing"
    return found


@functools.lru_cache(maxsize=8)
def _identity(common_dir: Path, root: Path) -> dict[str, str]:
    """Author: the user when git knows them; committer: autocommit."""

    def get(key: str) -> str:
        return git.run(["config", key], root, check=False).stdout.decode().strip()

    name, email = get("user.name") or "autocommit", get("user.email") or "autocommit@localhost"
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": "autocommit",
        "GIT_COMMITTER_EMAIL": "autocommit@localhost",
    }


def _rules_fingerprint(settings: Settings) -> str:
    text = repr((settings.max_file_size, settings.secret_patterns, settings.exclude))
    return hashlib.sha1(text.encode()).hexdigest()


def _needs_full_reconcile(paths: list[str], state: IndexState | None, index: PrivateIndex,
                          settings: Settings) -> bool:  # fmt: skip
    if state is None or state.user_index != index.user_index_signature():
        return True  # first snapshot, or the user staged/committed/checked out since
    if state.rules != _rules_fingerprint(settings):
        return True
    if len(paths) > MAX_INCREMENTAL_PATHS:
        return True  # a scan is as cheap, and the paths would not fit on a command line
    return any(p == ".gitignore" or p.endswith("/.gitignore") or p in ("", ".") for p in paths)


def _in_scope(path: str, scopes: list[str]) -> bool:
    return any(path == s or path.startswith(s.rstrip("/") + "/") for s in scopes)


class _Engine:
    def __init__(self, worktree: Worktree, settings: Settings) -> None:
        self.wt = worktree
        self.root = worktree.root
        self.index = PrivateIndex(worktree)
        self.settings = settings
        self.rules = ExclusionRules(settings)

    def _private(self, args: list[str], input: bytes | None = None, ok: tuple[int, ...] = (0,)
                 ) -> bytes:  # fmt: skip
        return git.run(args, self.root, input=input, env=self.index.env, ok_codes=ok).stdout

    def full_reconcile(self) -> dict[str, str]:
        """Stage the whole working tree into a fresh copy of the user's index."""
        self.index.reseed_from_user_index()
        untracked = git.nul_split(
            self._private(["ls-files", "-z", "--others", "--exclude-standard"])
        )
        _, skipped = self.rules.partition(self.root, untracked)
        specs = [":/"] + [":(top,exclude,literal)" + s.path for s in skipped]
        proc = git.run(
            ["add", "-A", "--ignore-errors", "--pathspec-from-file=-", "--pathspec-file-nul"],
            self.root,
            input=git.nul_join(specs),
            env=self.index.env,
            ok_codes=(0, 1),
        )
        found = {s.path: s.reason for s in skipped}
        found.update(self._unreadable(proc))
        return found

    def _unreadable(self, proc: object) -> dict[str, str]:
        """Files ``git add --ignore-errors`` could not read (it exits 1 and names them)."""
        stderr = getattr(proc, "stderr", b"").decode(errors="surrogateescape")
        if getattr(proc, "returncode", 0) == 0:
            return {}
        found: dict[str, str] = {}
        for line in stderr.splitlines():
            if line.startswith('error: open("') and '"): ' in line:
                path, _, why = line.removeprefix('error: open("').partition('"): ')
                found[path] = f"unreadable: {why}"
        if not found:
            raise GitCommandError(["add", "-A"], 1, stderr)
        return found

    def incremental(self, paths: list[str], state: IndexState) -> dict[str, str]:
        """Bring only ``paths`` (files or directories) up to date in the private index."""
        specs = [":(top,literal)" + p for p in paths]
        # The user's index says what is tracked. (ls-files takes no --pathspec-from-file.)
        listing = git.run(
            ["ls-files", "-z", "-t", "--cached", "--others", "--exclude-standard", "--", *specs],
            self.root,
        ).stdout
        tracked: set[str] = set()
        untracked: list[str] = []
        for entry in git.nul_split(listing):
            tag, path = entry[0], entry[2:]
            (untracked.append(path) if tag == "?" else tracked.add(path))
        kept, skipped = self.rules.partition(self.root, untracked)
        desired = tracked | set(kept)
        current = set(git.nul_split(self._private(["ls-files", "-z", "--cached", "--", *specs])))
        if desired:
            self._private(["update-index", "--add", "--remove", "-z", "--stdin"],
                          git.nul_join(sorted(desired)))  # fmt: skip
        if current - desired:
            self._private(["update-index", "--force-remove", "-z", "--stdin"],
                          git.nul_join(sorted(current - desired)))  # fmt: skip
        found = {k: v for k, v in state.skipped.items() if not _in_scope(k, paths)}
        found.update({s.path: s.reason for s in skipped})
        return found

    def stage(self, paths: list[str] | None) -> tuple[dict[str, str], bool]:
        """Update the private index; returns (skipped files, whether it was a full scan)."""
        state = self.index.load_state()
        if (
            paths is not None
            and state is not None
            and not _needs_full_reconcile(paths, state, self.index, self.settings)
        ):
            try:
                return self.incremental(paths, state), False
            except GitCommandError:
                pass  # e.g. a file became a directory: the full reconcile handles anything
        signature = self.index.user_index_signature()
        skipped = self.full_reconcile()
        self.index.save_state(IndexState(signature, _rules_fingerprint(self.settings), skipped))
        return skipped, True

    def save_skipped(self, skipped: dict[str, str]) -> None:
        state = self.index.load_state()
        if state is not None and state.skipped != skipped:
            state.skipped = skipped
            self.index.save_state(state)

    def summary(self, old_tree: str | None, new_tree: str) -> str:
        if old_tree is None:
            old_tree = git.out(["mktree"], self.root, input=b"")
        text = self._private(["diff-tree", "-r", "-z", "--no-renames", "--name-status",
                              old_tree, new_tree])  # fmt: skip
        parts = git.nul_split(text)
        words = {"A": "add", "D": "delete", "M": "modify", "T": "retype"}
        changes = [
            f"{words.get(parts[i][0], parts[i])} {parts[i + 1]}"
            for i in range(0, len(parts) - 1, 2)
        ]
        if not changes:
            return "no file changes"
        shown = ", ".join(changes[:3])
        more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
        return f"{len(changes)} file{'s' if len(changes) != 1 else ''}: {shown}{more}"


def take_snapshot(
    worktree: Worktree,
    paths: Iterable[str] | None = None,
    settings: Settings | None = None,
    *,
    lock_timeout: float = 60.0,
) -> Snapshot:
    """Snapshot the working tree and advance its shadow branch.

    ``paths`` (relative to the top of the working tree) are the paths known to have
    changed; None scans everything. Never touches the user's index, HEAD, branches,
    stash or files.
    """
    settings = settings or config.load(worktree.root)
    engine = _Engine(worktree, settings)
    changed = None if paths is None else sorted({p.strip("/") for p in paths})
    with engine.index.locked(lock_timeout):
        head_ref_proc = git.run(["symbolic-ref", "-q", "HEAD"], worktree.root, ok_codes=(0, 1))
        head_ref = head_ref_proc.stdout.decode().strip() or None
        shadow = refs.shadow_ref(worktree, head_ref)
        head, tip = _read_commits(worktree.root, ["HEAD", shadow])
        skipped_map, reconciled = engine.stage(changed)
        tree = engine._private(["write-tree"]).decode().strip()
        skipped = tuple(Skipped(p, r) for p, r in sorted(skipped_map.items()))
        if not reconciled:
            engine.save_skipped(skipped_map)

        head_sha = head.sha if head else None
        if head is not None and tree == head.tree:
            return Snapshot(head.sha, tree, head_sha, head_ref, shadow, False, False,
                            reconciled, skipped, "clean: the snapshot is HEAD")  # fmt: skip
        dirty = True
        if tip is not None and tip.tree == tree and tip.head_trailer == (head_sha or UNBORN):
            return Snapshot(tip.sha, tree, head_sha, head_ref, shadow, dirty, False,
                            reconciled, skipped, "unchanged since the last snapshot")  # fmt: skip

        parents = [tip.sha] if tip else []
        if head is not None and (tip is None or tip.head_trailer != head.sha):
            parents.append(head.sha)
        base_tree = tip.tree if tip else (head.tree if head else None)
        summary = engine.summary(base_tree, tree)
        message = f"autocommit: {summary}\n\n{HEAD_TRAILER}: {head_sha or UNBORN}\n"
        message += "".join(s.trailer() + "\n" for s in skipped)
        parent_args = [arg for p in parents for arg in ("-p", p)]
        commit = git.out(
            ["commit-tree", "--no-gpg-sign", tree, *parent_args, "-F", "-"],
            worktree.root,
            input=message.encode(errors="surrogateescape"),
            env=_identity(worktree.common_dir, worktree.root),
        )
        engine.index.remove_stale_ref_lock(shadow)
        if not refs.compare_and_swap(worktree.root, shadow, commit, tip.sha if tip else None,
                                     f"autocommit: {summary}"):  # fmt: skip
            raise GitCommandError(["update-ref", shadow], 1, f"{shadow} moved during the snapshot")
        return Snapshot(commit, tree, head_sha, head_ref, shadow, dirty, True, reconciled,
                        skipped, summary)  # fmt: skip
