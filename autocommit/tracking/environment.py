"""``environment.txt`` of a run's context: the Python and the distributions it ran with.

The first line names the Python version and the platform; then one ``name==version``
line per installed distribution, sorted, an editable install followed by the path of its
source (PEP 610 ``direct_url.json``). Listing the distributions reads every metadata
directory (tens of milliseconds), so the text is kept for the process and made again
only when ``sys.path`` or what its directories hold changes: the key is each ``sys.path``
entry with its directory's modification time, a few ``stat`` calls. Installing,
upgrading or removing a distribution adds, renames or removes its ``.dist-info``
directory (named by version), which changes the directory it lives in. An ``.egg-info``
directory may be written again in place (``setup.py develop`` in a source tree), so it
and its ``PKG-INFO`` are in the key too.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from urllib.parse import unquote, urlparse

_Key = tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]
_cached: tuple[_Key, list[str], str] | None = None  # key, metadata rewritten in place, text


def environment_text() -> str:
    """The text of ``environment.txt`` for this process as it is now."""
    global _cached
    if _cached is not None and _key(sys.path, _cached[1]) == _cached[0]:
        return _cached[2]
    text, dirs = _compute()
    _cached = (_key(sys.path, dirs), dirs, text)
    return text


def _mtime(path: str) -> int:
    try:
        return os.stat(path or ".").st_mtime_ns
    except OSError:
        return -1


def _key(entries: list[str], rewritten: list[str]) -> _Key:
    return tuple((e, _mtime(e)) for e in entries), tuple((p, _mtime(p)) for p in rewritten)


def _compute() -> tuple[str, list[str]]:
    """The text, and the paths of the metadata that may be written again in place."""
    lines: dict[str, str] = {}  # normalized name → line; the first on sys.path wins
    rewritten: list[str] = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if not name:
            continue
        located = getattr(dist, "_path", None)  # PathDistribution's metadata directory
        if located is not None and not str(located).endswith(".dist-info"):
            rewritten += [str(located), os.path.join(located, "PKG-INFO")]
        key = name.lower().replace("_", "-").replace(".", "-")
        if key not in lines:
            lines[key] = f"{name}=={dist.version}{_editable_note(dist, located)}"
    header = f"Python {platform.python_version()} ({platform.python_implementation()}) on "
    header += f"{platform.platform()} ({sys.executable})"
    return "\n".join([header, *sorted(lines.values(), key=str.lower)]) + "\n", rewritten


def _editable_note(dist: metadata.Distribution, located: object) -> str:
    """``  # editable: <source path>`` for an editable install (PEP 610), or for metadata
    built inside a source tree on ``sys.path`` (``setup.py develop``, a checkout run in
    place); else nothing."""
    if isinstance(located, os.PathLike) and str(located).endswith(".egg-info"):
        parent = os.path.dirname(os.path.abspath(located))
        if not parent.endswith(("site-packages", "dist-packages")):
            return f"  # editable: {parent}"
    try:
        raw = dist.read_text("direct_url.json")
        info = json.loads(raw) if raw else None
    except (OSError, ValueError):
        return ""
    if not isinstance(info, dict) or not (info.get("dir_info") or {}).get("editable"):
        return ""
    url = urlparse(str(info.get("url", "")))
    source = unquote(url.path) if url.scheme == "file" else str(info.get("url", ""))
    return f"  # editable: {source}"
