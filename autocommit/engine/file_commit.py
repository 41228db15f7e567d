"""A commit of a few files held in memory, on top of a given commit, pinned.

A run's context (:mod:`autocommit.tracking.context`) is such a commit: a flat tree of
small files whose only parent is the run commit. Every id is computed here first; the
author, committer and dates are the parent's, so equal files on the same parent give the
same commit, and when that commit is already pinned nothing is written at all. Else the
blobs, the tree and the commit go through ``git hash-object -w`` (one process per kind)
and the pin through ``git update-ref --stdin``, the four started at once so that their
start-ups overlap (``git fast-import``, one process for all, starts slower than the four
together); nothing touches the index or the working tree.
"""

from __future__ import annotations

from autocommit.engine.run_commit import commit_text_of
from autocommit.gitio import refs
from autocommit.gitio.commits import CommitWriter, commit_text
from autocommit.gitio.objects import TreeEntry, object_id, tree_text
from autocommit.gitio.refs import RefUpdater
from autocommit.gitio.repo import Worktree
from autocommit.state_files import ensure_dir

_FILE_MODE = "100644"


def commit_files(worktree: Worktree, parent: str, files: dict[str, bytes], message: str) -> str:
    """The pinned commit holding exactly ``files`` (name → content, no directories) on top
    of ``parent``."""
    blobs = {name: object_id("blob", content, parent) for name, content in files.items()}
    tree = tree_text([(name, TreeEntry(_FILE_MODE, sha)) for name, sha in blobs.items()])
    header = commit_text_of(worktree, parent).decode(errors="surrogateescape").partition("\n\n")[0]
    fields = dict(line.split(" ", 1) for line in header.splitlines() if " " in line)
    text = commit_text(object_id("tree", tree, parent), [parent], fields["author"],
                       fields["committer"], message)  # fmt: skip
    commit = object_id("commit", text, parent)
    if refs.pin_seen(worktree, commit):
        return commit
    root, state_dir = worktree.root, ensure_dir(worktree.state_dir)
    objects = [("blob", list(files.values())), ("tree", [tree]), ("commit", [text])]
    writers = [CommitWriter(root, state_dir, kind=kind) for kind, _ in objects]
    pinner = RefUpdater(root)
    try:
        for writer in writers:  # all started at once: their start-ups overlap
            writer.start()
        pinner.start()
        for writer, (_, texts) in zip(writers, objects, strict=True):
            if texts:
                writer.write(texts)
        pinner.pin([commit])
    finally:
        pinner.close()
        for writer in writers:
            writer.close()
    return commit
