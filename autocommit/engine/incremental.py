"""An incremental snapshot: the previous snapshot's tree, updated for the changed paths.

Only the given paths are looked at, and no index is read: an edited file costs a
``hash-object`` and the trees on its path (a new file also a ``check-ignore``). Paths
whose treatment depends on what the user tracks (ignored, secret-looking, oversized files,
directories, nested repositories) are listed against the user's index first. Anything
unusual (an unreadable file, very many files, a tree gone missing) raises
:class:`NeedsFullScan`.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from autocommit.engine.exclusions import ExclusionRules
from autocommit.engine.file_kind import not_a_file, recordable
from autocommit.engine.kept_processes import GitPipes
from autocommit.engine.snapshot_state import SnapshotState, is_flagged
from autocommit.engine.tree_edit import MissingTree, TreeEditor
from autocommit.errors import GitCommandError
from autocommit.gitio import git
from autocommit.gitio.objects import GITLINK_MODE, SYMLINK_MODE

MAX_FILES = 2000  # more files to hash than this: a full scan (which caches stat data) wins
ATTEMPTS = 3  # files that vanish while being hashed: look again, this many times
_META_FILES = frozenset({".gitignore", ".gitattributes"})  # change how other paths count


class NeedsFullScan(Exception):
    """The changed paths cannot be handled incrementally; scan the whole working tree."""


class _Plan:
    """What an update does, gathered path by path."""

    __slots__ = ("as_indexed", "files", "listed", "remove", "skipped", "submodules")

    def __init__(self) -> None:
        self.remove: set[str] = set()
        # to hash: path → its st_mode (all that is used: a burst lists tens of thousands)
        self.files: dict[str, int] = {}
        self.submodules: set[str] = set()  # tracked gitlinks to look at
        self.as_indexed: dict[str, tuple[str, str]] = {}  # path → mode, id
        self.listed: set[str] = set()  # to classify with the user's index
        self.skipped: dict[str, str] = {}


def _in_scope(path: str, scopes: set[str]) -> bool:
    return any(path == s or path.startswith(s + "/") for s in scopes)


class IncrementalUpdate:
    def __init__(
        self, root: Path, pipes: GitPipes, state: SnapshotState, rules: ExclusionRules
    ) -> None:
        self.root = root
        self.pipes = pipes
        self.state = state
        self.rules = rules
        self.rules_for_known_names = rules.for_known_names()
        self._top = str(root)
        self._ancestors: dict[str, tuple[bool, os.stat_result | None]] = {}
        # The flagged paths and every directory above them.
        self._flagged_scopes: set[str] | None = None
        if state.flagged is not None:
            self._flagged_scopes = {
                "/".join(parts[:depth])
                for parts in (path.split("/") for path in state.flagged)
                for depth in range(1, len(parts) + 1)
            }

    def run(self, paths: list[str]) -> tuple[str, dict[str, str]]:
        """The new tree and the files now left out (all of them, not only these paths)."""
        scopes = self._normalize(paths)
        for attempt in range(ATTEMPTS):
            try:
                editor = TreeEditor(self.pipes.reader, self.state.tree)
                plan = self._plan(scopes, editor)
                self._apply(plan, editor)
                tree = editor.write(self.pipes.trees)
            except MissingTree as exc:
                raise NeedsFullScan(f"tree {exc} is gone") from exc
            except _Vanished:
                if attempt == ATTEMPTS - 1:
                    raise NeedsFullScan("files keep changing while being read") from None
                continue
            looked_at = scopes | plan.remove | plan.listed
            skipped = {k: v for k, v in self.state.skipped.items() if not _in_scope(k, looked_at)}
            skipped.update(plan.skipped)
            return tree, skipped
        raise AssertionError("unreachable")

    def _normalize(self, paths: list[str]) -> set[str]:
        """Clean relative paths; a change inside a nested ``.git`` is a change of its repo."""
        scopes: set[str] = set()
        for raw in paths:
            if os.path.isabs(raw):
                raw = os.path.relpath(raw, self.root)
            parts = [p for p in raw.replace(os.sep, "/").split("/") if p not in ("", ".")]
            if ".." in parts:
                continue  # outside the working tree
            if ".git" in parts:
                parts = parts[: parts.index(".git")]
                if not parts:
                    continue  # our own git dir
            if not parts:
                raise NeedsFullScan("the whole working tree changed")
            if parts[-1] in _META_FILES:
                raise NeedsFullScan(f"{parts[-1]} changed")
            scopes.add("/".join(parts))
        return scopes

    def _plan(self, scopes: set[str], editor: TreeEditor) -> _Plan:
        plan = _Plan()
        self._ancestors = {}
        candidates: list[str] = []
        for path in sorted(scopes):
            path, info = self._resolve(path)
            if self._flagged(path):
                plan.listed.add(path)  # its content may be the index's: ask the index
            elif info is None:
                plan.remove.add(path)
            elif stat.S_ISDIR(info.st_mode) or not recordable(info.st_mode):
                plan.listed.add(path)  # a FIFO where a tracked file was keeps that file
            else:
                # A file the last snapshot held is tracked or its name passed the rules,
                # which are unchanged (else this would be a full scan): only the file is
                # looked at again (a new process then compiles no pattern). A directory
                # there before is no file (get() says None): its name is matched.
                before = editor.get(path)
                rules = self.rules if before is None else self.rules_for_known_names
                if rules.reason_to_skip(self.root, path) is not None:
                    plan.listed.add(path)  # left out only if untracked: ask the index
                    continue
                plan.files[path] = info.st_mode
                if before is not None and before.mode == GITLINK_MODE:
                    raise NeedsFullScan(f"submodule {path} changed")
                if before is None:
                    # A path the last snapshot held is tracked or not ignored, and the
                    # ignore rules are unchanged (else this would be a full scan): only
                    # new paths need asking.
                    candidates.append(path)
        for path in self._ignored(candidates):
            del plan.files[path]
            plan.listed.add(path)  # ignored only if untracked: ask the index
        if plan.listed:
            self._classify_listed(plan)
        if len(plan.files) > MAX_FILES:
            raise NeedsFullScan("too many files changed")
        return plan

    def _flagged(self, path: str) -> bool:
        """Whether the user's index may mark ``path`` (or a path under it) skip-worktree
        or assume-unchanged: git then records the index's version, not the file."""
        if self._flagged_scopes is None:
            return True  # not known: every path is looked up
        return path in self._flagged_scopes

    def _resolve(self, path: str) -> tuple[str, os.stat_result | None]:
        """``path`` or its topmost ancestor that is not a plain directory, and its lstat.

        git does not look through symbolic links to directories, and a nested repository
        (or a submodule) is one entry of the tree, not the files in it. Ancestors are
        looked at once per plan: paths share them (a deep tree's, hundreds).
        """
        parts = path.split("/")
        ancestor = ""
        for part in parts[:-1]:
            ancestor = f"{ancestor}/{part}" if ancestor else part
            stops, info = self._ancestor(ancestor)
            if stops:
                return ancestor, info
        return path, self._lstat(path)

    def _ancestor(self, path: str) -> tuple[bool, os.stat_result | None]:
        """Whether ``path`` is where a walk down stops (gone, not a plain directory, a
        nested repository), and its lstat."""
        known = self._ancestors.get(path)
        if known is None:
            info = self._lstat(path)
            stops = (
                info is None
                or not stat.S_ISDIR(info.st_mode)
                or os.path.lexists(os.path.join(self._top, path, ".git"))
            )
            known = self._ancestors[path] = (stops, info)
        return known

    def _lstat(self, path: str) -> os.stat_result | None:
        try:
            return os.lstat(os.path.join(self._top, path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _ignored(self, paths: list[str]) -> list[str]:
        return sorted(git.check_ignore(self.root, paths))

    def _classify_listed(self, plan: _Plan) -> None:
        """What the user's index says about the paths that need it: directories, files
        it may flag, files left out if untracked, entries that are not files."""
        listing = git.run(
            ["ls-files", "-z", "-t", "-v", "--stage", "--cached", "--others",
             "--exclude-standard", "--", *sorted(plan.listed)],
            self.root,
        ).stdout  # fmt: skip
        plan.remove.update(plan.listed)  # whatever is there now is added back below
        untracked: list[str] = []
        found: list[str] = []
        indexed: dict[str, tuple[str, str]] = {}  # path → mode, id (stage 0 only)
        for entry in git.nul_split(listing):
            tag, rest = entry[0], entry[2:]
            if tag == "?":
                untracked.append(rest)
                continue
            meta, path = rest.split("\t", 1)
            mode, sha, stage = meta.split()
            if stage == "0":
                indexed[path] = (mode, sha)
            if is_flagged(tag) and stage == "0":
                plan.as_indexed[path] = (mode, sha)  # git add keeps what the index has
            elif path not in found[-1:]:  # a conflict lists a path once per stage
                found.append(path)
        if len(found) + len(untracked) > MAX_FILES:  # a burst of new files, say
            raise NeedsFullScan("too many files changed")  # before looking at each
        kept, skipped = self.rules.partition(self.root, untracked)
        plan.skipped.update((s.path, s.reason) for s in skipped)
        for path in [*found, *kept]:
            try:
                info = os.lstat(self.root / path)
            except (FileNotFoundError, NotADirectoryError):
                continue  # a tracked file that was deleted
            if stat.S_ISDIR(info.st_mode):
                plan.submodules.add(path)  # ls-files lists no other directories
            elif stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
                plan.files[path] = info.st_mode
            else:  # not a file: git add keeps the index's version, if there is one
                plan.skipped[path] = not_a_file(info.st_mode)
                if path in indexed:
                    plan.as_indexed[path] = indexed[path]

    def _mode(self, path: str, st_mode: int, editor: TreeEditor) -> str:
        """The tree mode git would record, honouring core.fileMode and core.symlinks."""
        if stat.S_ISLNK(st_mode):
            return SYMLINK_MODE
        base = editor.get(path)
        if not self.state.symlinks and base is not None and base.mode == SYMLINK_MODE:
            return SYMLINK_MODE
        if not self.state.file_mode:
            return base.mode if base is not None and base.mode.startswith("100") else "100644"
        return "100755" if st_mode & stat.S_IXUSR else "100644"

    def _apply(self, plan: _Plan, editor: TreeEditor) -> None:
        modes = {path: self._mode(path, mode, editor) for path, mode in plan.files.items()}
        gitlinks = {path: self._submodule_head(path, editor) for path in plan.submodules}
        for path in plan.remove:
            editor.remove(path)
        for path, (mode, sha) in plan.as_indexed.items():
            editor.set(path, mode, sha)
        for path, commit in gitlinks.items():
            if commit is not None:
                editor.set(path, GITLINK_MODE, commit)
        regular = [p for p, mode in plan.files.items() if not stat.S_ISLNK(mode)]
        links = [p for p, mode in plan.files.items() if stat.S_ISLNK(mode)]
        for path in regular:
            if not os.access(self.root / path, os.R_OK):
                raise NeedsFullScan(f"{path} is unreadable")
        blobs = dict(zip(regular, self._hash_files(regular), strict=True))
        blobs.update(zip(links, self._hash_links(links), strict=True))
        for path, mode in modes.items():
            editor.set(path, mode, blobs[path])

    def _submodule_head(self, path: str, editor: TreeEditor) -> str | None:
        """What ``git add`` records for a submodule: its HEAD, else the entry as it was."""
        if os.path.lexists(self.root / path / ".git"):  # else git would find our own HEAD
            proc = git.run(["rev-parse", "-q", "--verify", "HEAD^{commit}"], self.root / path,
                           check=False)  # fmt: skip
            if proc.returncode == 0:
                return proc.stdout.decode().strip()
        entry = editor.get(path)
        return entry.sha if entry is not None and entry.mode == GITLINK_MODE else None

    def _hash_files(self, paths: list[str]) -> list[str]:
        """Blob ids of working-tree files, through git's clean filters and eol conversion."""
        if not paths:
            return []
        try:
            return self.pipes.blobs.hash(paths)
        except GitCommandError as exc:
            # Gone when git reached it, though it may be back by now (a file that comes and
            # goes): git's own words say so; else one that is gone now.
            if _GONE.search(exc.stderr) or any(not os.path.isfile(self.root / p) for p in paths):
                raise _Vanished from exc
            raise

    def _hash_links(self, paths: list[str]) -> list[str]:
        """Blob ids of symbolic links: their target, as git stores it."""
        if not paths:
            return []
        import tempfile  # here: a new process's snapshot rarely has links to hash

        with tempfile.TemporaryDirectory(prefix="autocommit-links-") as tmp:
            names = []
            for number, path in enumerate(paths):
                try:
                    target = os.readlink(self.root / path)
                except OSError as exc:
                    raise _Vanished from exc
                name = os.path.join(tmp, str(number))
                with open(name, "wb") as handle:
                    handle.write(os.fsencode(target))
                names.append(name)
            data = "".join(n + "\n" for n in names).encode()
            text = git.out(["hash-object", "-w", "--no-filters", "--stdin-paths"], self.root,
                           input=data)  # fmt: skip
        return text.split("\n")


# git's words for a path that was not there, or no longer a file, when it went to read it
_GONE = re.compile(r"No such file or directory|Not a directory|Is a directory")


class _Vanished(Exception):
    """A file changed between being looked at and being read."""
