"""The layers import downwards only: the architecture of docs/architecture.md, checked."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import PROJECT

PACKAGE = PROJECT / "autocommit"
# Lowest first. A module may import its own layer and the ones before it, never one after.
LAYERS = ("base", "gitio", "settings", "engine", "daemon", "tracking", "hooks", "reproduce", "cli")
ENTRY_POINTS = {"__init__", "__main__", "mlflow_plugin", "demo"}  # the top: may import anything


def layer_of(module: str) -> str | None:
    """``autocommit.engine.snapshot`` → ``engine``; top-level shared modules are ``base``."""
    parts = module.split(".")
    if parts[0] != "autocommit" or len(parts) == 1:
        return None
    if len(parts) == 2 and parts[1] not in LAYERS:
        return None if parts[1] in ENTRY_POINTS else "base"
    return parts[1]


def imported(path: Path) -> set[str]:
    """Every ``autocommit`` module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "autocommit":
                found.update(f"autocommit.{alias.name}" for alias in node.names)
            elif node.module.startswith("autocommit."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("autocommit."))
    return found


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found.append((".".join(p for p in parts if p != "__init__") or "autocommit", path))
    return found


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_point_down(module: str, path: Path) -> None:
    own = layer_of(module)
    if own is None:
        return
    upward = sorted(
        name for name in imported(path)
        if (theirs := layer_of(name)) is not None and LAYERS.index(theirs) > LAYERS.index(own)
    )  # fmt: skip
    assert not upward, f"{module} ({own}) imports from a layer above it: {upward}"


def test_every_layer_is_a_package() -> None:
    for layer in LAYERS[1:]:
        assert (PACKAGE / layer / "__init__.py").is_file(), layer
