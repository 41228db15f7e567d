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

A kept writer (the daemon's) makes its temporaries ahead, while nobody waits: on some
file systems making a file costs far more than writing and renaming one (0.4-0.7 ms
against about 0.03 ms on the machine of the benchmarks), and a run's snapshot writes
five to ten objects. They wait, open, empty and owner-only, in a directory of
autocommit's state (on the object store's file system, or they are not used); each is
written there and renamed into its fan-out directory, from where it goes on as git's
own temporaries do. A killed daemon leaves its waiting temporaries out of the object
store (the next one removes them), and at most the one it was writing in it, as git
would.

Only for repositories whose objects git writes with the default permissions: with
``core.sharedRepository`` set, git adjusts each file's and directory's mode, and the
callers use git's own writers instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import zlib
from collections.abc import Callable
from pathlib import Path

from autocommit import state_files
from autocommit.gitio.objects import object_id

_TMP_PREFIX = "tmp_obj_"  # git's: `git prune` removes stale ones, `git fsck` skips them
_COMPRESSION = 1  # core.looseCompression's default (Z_BEST_SPEED)
AHEAD = 16  # temporaries a kept writer makes ahead: a run's snapshot and context use 5-10


# object store → whether git writes its objects with the default permissions there (no
# core.sharedRepository), as a snapshot of this process last read git's config
_permitted: dict[Path, bool] = {}


class LooseObjects:
    """The loose objects of one object store (``<common dir>/objects``)."""

    def __init__(self, objects: Path, ahead: Path | None = None) -> None:
        self.objects = objects
        self._ahead_dir = ahead  # where temporaries made ahead wait (None: made when needed)
        # Open for writing, owner-only while they wait, each with the mode it gets when
        # written (0444 less the umask, as git makes its temporaries); shared by the
        # daemon's threads (list.append and list.pop are atomic).
        self._ahead: list[tuple[int, Path, int]] = []
        self._cleared = False  # the directory's leftovers (a killed daemon's) removed

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
        directory = os.path.join(self.objects, sha[:2])  # strings: a snapshot writes many
        final = os.path.join(directory, sha[2:])
        try:
            os.utime(final)  # there already: freshened, as git does
            return sha
        except FileNotFoundError:
            pass
        except PermissionError:
            pass  # someone else's file: written again below, which keeps theirs
        data = zlib.compress(f"{kind} {len(body)}\0".encode() + body, _COMPRESSION)
        if self._written_ahead(data, directory, final):
            return sha
        fd, temporary = self._temporary(Path(directory))
        try:
            with os.fdopen(fd, "wb") as file:  # 0444 on disk: written through this fd
                file.write(data)
            _place(temporary, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return sha

    def make_ahead(self, enough: Callable[[], bool] = lambda: False) -> None:
        """Make temporaries for the next objects, up to :data:`AHEAD` or until ``enough``
        says to stop (someone waits for this thread). Only where objects are written from
        Python (:attr:`allowed`)."""
        directory = self._ahead_dir
        umask = _umask()
        if directory is None or umask is None or not self.allowed:
            return
        mode = 0o444 & ~umask  # as git makes its temporaries; owner-only while they wait
        try:
            if not self._cleared:
                self._clear_leftovers(directory)
            while len(self._ahead) < AHEAD and not enough():
                fd, path = self._temporary(directory, make_directory=False, mode=0o400)
                self._ahead.append((fd, path, mode))
        except OSError:  # a full disk, a removed directory: made when needed
            self._cleared = False  # made again next time

    def discard_ahead(self) -> None:
        """Remove the temporaries made ahead."""
        while True:
            try:
                fd, path, _ = self._ahead.pop()
            except IndexError:
                return
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _written_ahead(self, data: bytes, directory: str, final: str) -> bool:
        """Store ``data`` as ``final`` through a temporary made ahead; False when there is
        none, or it could not be used (then the caller writes it the usual way).

        The temporary is written while still owner-only and renamed into the fan-out
        directory before it gets its object mode: no name in the state directory is ever
        readable by others, and from there on it is git's own way (a ``tmp_obj_*`` of the
        fan-out directory, linked into place)."""
        try:
            fd, temporary, mode = self._ahead.pop()
        except IndexError:
            return False
        moved = os.path.join(directory, temporary.name)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                if not self._moved(temporary, moved, directory):
                    return False
                os.fchmod(file.fileno(), mode)
            _place(moved, final)
            return True
        finally:
            for name in (moved, temporary):
                try:
                    os.unlink(name)
                    break  # the temporary is moved, else there is no moved one
                except FileNotFoundError:
                    pass

    def _moved(self, temporary: Path, moved: str, directory: str) -> bool:
        """Rename ``temporary`` to ``moved`` in the fan-out ``directory`` (made when
        missing); False when that cannot be done (gone, or on another file system: then
        no more temporaries are made ahead)."""
        for attempt in range(2):
            try:
                os.rename(temporary, moved)
                return True
            except FileNotFoundError:  # no fan-out directory yet (or no temporary)
                if attempt:
                    return False
                _make_fan_out(directory)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                self._ahead_dir = None
                self.discard_ahead()
                return False
        return False

    def _clear_leftovers(self, directory: Path) -> None:
        """Make ``directory`` (owner only, whatever the umask) and empty it of temporaries
        a killed daemon left."""
        state_files.ensure_dir(directory)
        for entry in os.scandir(directory):
            if entry.name.startswith(_TMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
        self._cleared = True

    @staticmethod
    def _temporary(
        directory: Path, make_directory: bool = True, mode: int = 0o444
    ) -> tuple[int, Path]:
        """A new ``tmp_obj_*`` file (``mode`` less the umask) in ``directory``, which is
        made when missing (``make_directory``), open for writing."""
        for attempt in range(100):
            path = directory / f"{_TMP_PREFIX}{os.getpid()}_{os.urandom(4).hex()}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
            try:
                fd = os.open(path, flags, mode)
            except FileExistsError:
                continue
            except FileNotFoundError:
                if attempt > 3 or not make_directory:  # `git prune-packed` removes empty ones
                    raise
                _make_fan_out(directory)
                continue
            return fd, path
        raise FileExistsError(errno.EEXIST, "no free temporary object name", str(directory))


def _make_fan_out(directory: Path | str) -> None:
    """Make a fan-out directory (``objects/<2 hex>``) as git makes it: 0777 less the umask."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, 0o777)


def _umask() -> int | None:
    """The process's umask, read without setting it (which would race with the threads
    making files): Linux's ``/proc/self/status``; None where it cannot be read."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _place(temporary: Path | str, final: str) -> None:
    """Give the written ``temporary`` the object's name, as git does: linked (an object
    already there is kept), or renamed where there are no hard links."""
    try:
        os.link(temporary, final)
    except FileExistsError:
        pass  # written meanwhile by someone else: the same bytes
    except OSError:
        os.replace(temporary, final)
