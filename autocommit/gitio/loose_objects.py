"""Writing git objects as loose object files from Python, the way git writes them.

A snapshot writes a handful of small objects: the trees along the changed paths, the
snapshot and run commits, a run's context files. Asking a git process for each kind is a
round trip per kind that waits on git's own file writes; their ids are computed here
anyway (:func:`~autocommit.gitio.objects.object_id`), so the objects are stored here too:
``objects/<2 hex>/<rest>``, zlib-deflated ``<kind> <size>\\0<body>``, written to a
``tmp_obj_*`` file of the fan-out directory (the name git's ``prune`` and ``fsck`` know
as a temporary) with mode 0444, then linked into place and the temporary removed. An
object already stored loose is only freshened (its time set to now), as git does, so
``git gc`` never prunes an object a new ref is about to name.

Only for repositories whose objects git writes with the default permissions: with
``core.sharedRepository`` set, git adjusts each file's and directory's mode, and the
callers use git's own writers instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import zlib
from pathlib import Path

from autocommit.gitio.objects import object_id

_TMP_PREFIX = "tmp_obj_"  # git's: `git prune` removes stale ones, `git fsck` skips them
_COMPRESSION = 1  # core.looseCompression's default (Z_BEST_SPEED)


# object store → whether git writes its objects with the default permissions there (no
# core.sharedRepository), as a snapshot of this process last read git's config
_permitted: dict[Path, bool] = {}


class LooseObjects:
    """The loose objects of one object store (``<common dir>/objects``)."""

    def __init__(self, objects: Path) -> None:
        self.objects = objects

    @property
    def allowed(self) -> bool:
        """Whether objects may be written here from Python: not until a snapshot read
        git's config and found the default permissions (:meth:`permit`)."""
        return _permitted.get(self.objects, False)

    def permit(self, allowed: bool) -> None:
        _permitted[self.objects] = allowed

    def write(self, kind: str, body: bytes, like: str) -> str:
        """Store ``body`` as a ``kind`` object; returns its id (``like``: an object id
        of the repository, for its hash algorithm)."""
        sha = object_id(kind, body, like)
        directory = self.objects / sha[:2]
        final = directory / sha[2:]
        try:
            os.utime(final)  # there already: freshened, as git does
            return sha
        except FileNotFoundError:
            pass
        except PermissionError:
            pass  # someone else's file: written again below, which keeps theirs
        data = zlib.compress(f"{kind} {len(body)}\0".encode() + body, _COMPRESSION)
        fd, temporary = self._temporary(directory)
        try:
            with os.fdopen(fd, "wb") as file:  # 0444 on disk: written through this fd
                file.write(data)
            try:
                os.link(temporary, final)
            except FileExistsError:
                pass  # written meanwhile by someone else: the same bytes
            except OSError:
                os.replace(temporary, final)  # no hard links here: renamed, as git does
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return sha

    @staticmethod
    def _temporary(directory: Path) -> tuple[int, Path]:
        """A new ``tmp_obj_*`` file (mode 0444 less the umask) in ``directory``, which is
        made when missing, open for writing."""
        for attempt in range(100):
            path = directory / f"{_TMP_PREFIX}{os.getpid()}_{os.urandom(4).hex()}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            try:
                fd = os.open(path, flags, 0o444)
            except FileExistsError:
                continue
            except FileNotFoundError:
                if attempt > 3:  # `git prune-packed` removes empty ones meanwhile
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(directory, 0o777)  # less the umask, as git makes it
                continue
            return fd, path
        raise FileExistsError(errno.EEXIST, "no free temporary object name", str(directory))
