"""The built-in plugins use only the public plugin API (``aibridge.__all__``) and their own modules.

The recorder, retention, audit, dashboard and budgets plugins also share the storage package; no
plugin imports another plugin's modules or a core module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import aibridge

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"
PACKAGE = "aibridge_plugins"
SHARED = {"storage": {"recorder", "retention", "audit", "dashboard", "budgets"}}  # shared package -> the plugins that may use it


def plugin_modules(root: Path) -> list[tuple[str, Path]]:
    """(dotted module name, path) of every module under ``root`` (the plugins/ directory)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append((".".join([PACKAGE, *parts]), path))
    return found


def imports(module: str, tree: ast.Module, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of everything the module imports: modules, and names taken from them."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(package + ([node.module] if node.module else []))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def owner(name: str) -> str | None:
    """The plugin (or shared package) a dotted name under aibridge_plugins belongs to."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def problems_of(module: str, path: Path, root: Path = PLUGINS) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    public = set(aibridge.__all__)
    mine = owner(module)
    where = path.relative_to(root)
    problems = []
    for line, name in imports(module, tree, path.name == "__init__.py"):
        if name.startswith("aibridge."):
            if name.count(".") > 1 or name.split(".")[1] not in public:
                problems.append(f"{where}:{line}: {name} is not in aibridge.__all__")
        elif name.startswith(PACKAGE + "."):
            theirs = owner(name)
            if theirs != mine and mine not in SHARED.get(theirs, ()):
                problems.append(f"{where}:{line}: {module} imports {name}, which belongs to another plugin")
    # aibridge.<name> in code, after ``import aibridge``.
    problems += [f"{where}:{node.lineno}: aibridge.{node.attr} is not in aibridge.__all__" for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                 and node.value.id == "aibridge" and node.attr not in public]
    return problems


def test_plugins_import_only_the_public_api_and_their_own_modules():
    problems = [problem for module, path in plugin_modules(PLUGINS) for problem in problems_of(module, path)]
    assert problems == []


def test_the_check_catches_what_it_forbids(tmp_path):
    root = tmp_path / "plugins"
    bad = root / "audit" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "import aibridge\nfrom aibridge import hookimpl\nfrom ..storage import reading\nfrom . import api\n"
        "from aibridge.db import open_database\nfrom aibridge import users\nimport aibridge.threads\n"
        "from ..recorder import writer\nfrom .. import metrics\naibridge.records.Tool\n"
    )
    problems = problems_of("aibridge_plugins.audit.bad", bad, root)
    assert [problem.split(": ", 1)[0] for problem in problems] == [f"audit/bad.py:{line}" for line in range(5, 11)]
