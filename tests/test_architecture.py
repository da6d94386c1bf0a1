"""The request path's layers import one way: routes -> relay -> apis / toolloop -> providers -> upstream.

resilience (retries, key pools, breakers, limits, fallback) sits beside them: the relay drives it, providers
own its pools and breakers, and it knows none of them (it reaches providers through their methods).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import aibridge

PACKAGE = Path(aibridge.__file__).parent

# Each layer, and the layers it must never import (at run time).
FORBIDDEN = {
    "upstream": {"relay", "apis", "toolloop", "providers"},
    "providers": {"relay", "apis", "toolloop"},
    "apis": {"relay", "toolloop"},
    "toolloop": {"relay"},
    "resilience": {"relay", "apis", "toolloop", "providers"},
}


def runtime_imports(path: Path) -> set[str]:
    """Dotted names of the aibridge modules ``path`` imports, leaving out ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            name = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith(("aibridge", "aibridge_plugins"))}


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "aibridge" and parts[1] in FORBIDDEN | {"relay": ()} else None


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path):
    own = layer_of(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
    imported = runtime_imports(path)
    assert not {name for name in imported if name.startswith("aibridge_plugins")}, "the core never imports a plugin"
    if own in FORBIDDEN:
        wrong = sorted(name for name in imported if layer_of(name) in FORBIDDEN[own])
        assert not wrong, f"{own} must not import {wrong}"


def test_nothing_outside_upstream_names_the_transports_exceptions():
    for path in MODULES:
        if path.parent.name == "upstream":
            continue
        source = path.read_text(encoding="utf-8")
        assert "urllib3" not in source and "socket.timeout" not in source, path


def test_every_package_is_listed_in_setup_cfg():
    """A package missing from setup.cfg works in an editable install and breaks every real one."""
    listed = set()
    lines = (Path(PACKAGE.parent / "setup.cfg").read_text(encoding="utf-8")).splitlines()
    start = lines.index("packages =") + 1
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        listed.add(line.strip())
    found = set()
    for root, prefix in ((PACKAGE, "aibridge"), (PACKAGE.parent / "plugins", "aibridge_plugins")):
        for init in root.rglob("__init__.py"):
            found.add(".".join([prefix, *init.parent.relative_to(root).parts]))
    assert found - listed == set()
