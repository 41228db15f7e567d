"""watchdog's internals the daemon relies on are all in one adapter, and still exist."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import autocommit
from autocommit.daemon import inotify_adapter

PACKAGE = Path(autocommit.__file__).parent
ADAPTER = Path(inotify_adapter.__file__)


def _members(cls: type) -> set[str]:
    """What an instance of ``cls`` has: its attributes and, for a dataclass, its fields
    (a field made by a ``default_factory`` is no class attribute)."""
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    return set(dir(cls)) | fields


@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (cls, name)
        for table in (inotify_adapter.PRIVATE_MEMBERS, inotify_adapter.OVERRIDDEN_MEMBERS)
        for cls, names in table.items()
        for name in names
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_the_installed_watchdog_still_has_every_member_the_adapter_uses(
    cls: type, name: str
) -> None:
    assert name in _members(cls), (
        f"watchdog no longer has {cls.__module__}.{cls.__qualname__}.{name}, which "
        f"autocommit/daemon/inotify_adapter.py relies on: adapt that module (its docstring "
        f"says what the member was for) before widening watchdog's range in pyproject.toml"
    )


def test_every_private_member_the_adapter_reaches_is_listed() -> None:
    tree = ast.parse(ADAPTER.read_text())
    bases = inotify_adapter.PRIVATE_MEMBERS.keys() | inotify_adapter.OVERRIDDEN_MEMBERS.keys()
    theirs = set().union(*(_members(cls) for cls in bases))
    assigned = {target.attr for node in ast.walk(tree) for target in _targets(node)
                if isinstance(target, ast.Attribute)}  # fmt: skip
    reached = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and node.attr.startswith("_") and not node.attr.startswith("__")}  # fmt: skip
    listed = {name for names in inotify_adapter.PRIVATE_MEMBERS.values() for name in names}
    own = assigned - theirs  # our subclasses' own attributes (self._deliver, ...)
    assert reached - own - listed == set()
    assert listed <= reached, "a listed member the adapter no longer uses"


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    return [node.target] if isinstance(node, ast.AnnAssign) else []


def test_no_other_module_imports_watchdog() -> None:
    importers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path != ADAPTER and _imports_watchdog(path)
    )
    assert importers == []


def _imports_watchdog(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "watchdog":
            return True
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "watchdog" for a in node.names
        ):
            return True
    return False
