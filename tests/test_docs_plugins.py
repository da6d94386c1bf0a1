"""docs/plugins.md documents every hook (with its signature and an example) and exactly the public API."""

import inspect
import re
from pathlib import Path

import aibridge
from aibridge.plugins import make_plugin_manager

DOC = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
CORE_HOOKS = "Hooks"


def hookspecs() -> dict[str, tuple[str, str]]:
    """Every hook of the loaded plugin manager: name -> (signature, the docs section it belongs in).

    Core hooks belong in "## Hooks"; a hook a built-in plugin adds, in "## Hooks added by the <plugin> plugin".
    """
    found = {}
    for name, caller in vars(make_plugin_manager().hook).items():
        if name.startswith("_") or caller.spec is None:
            continue
        function = caller.spec.function
        signature = f"{name}({', '.join(inspect.signature(function).parameters)})"
        module = function.__module__
        owner = module.split(".")[1] if module.startswith("aibridge_plugins.") else None
        found[name] = (signature, f"Hooks added by the {owner} plugin" if owner else CORE_HOOKS)
    return found


def hook_sections() -> dict[str, tuple[str, str, str]]:
    """Hook sections of the doc: name -> (arguments, body, the "## " chapter it sits in)."""
    sections = {}
    for chapter, text in re.findall(r"^## (.+?)\n(.*?)(?=^## |\Z)", DOC, re.M | re.S):
        for name, args, body in re.findall(r"^### (\w+)(\(.*?\))\n(.*?)(?=^### |\Z)", text, re.M | re.S):
            sections[name] = (args, body, chapter)
    return sections


def test_every_hook_has_a_section_with_its_signature_and_an_example():
    specs = hookspecs()
    assert len(specs) >= 15
    sections = hook_sections()
    for name, (signature, chapter) in specs.items():
        assert name in sections, f"docs/plugins.md has no section for {name}"
        args, body, found_in = sections[name]
        assert name + args == signature, f"docs/plugins.md shows {name}{args}, the hookspec is {signature}"
        assert "```python" in body and f"def {name}(" in body, f"the {name} section has no example implementing it"
        assert found_in == chapter, f"the {name} section belongs under '## {chapter}', not '## {found_in}'"


def test_the_mcp_plugin_adds_its_own_hook():
    assert hookspecs()["aibridge_mcp_credential"][1] == "Hooks added by the mcp plugin"
    assert "aibridge_mcp_credential" not in vars(aibridge.hookspecs)


def test_no_section_for_a_hook_that_does_not_exist():
    assert set(hook_sections()) <= set(hookspecs())


def test_the_public_api_section_lists_exactly_aibridge_all_in_its_order():
    (section,) = re.findall(r"^## The public API\n(.*?)(?=^## )", DOC, re.M | re.S)
    # Each bullet starts with the names it describes: `name`, `name(arguments)`, ...: what it is.
    named = [line.split(":")[0] for line in re.findall(r"^- (.+)$", section, re.M)]
    listed = [name for names in named for name in re.findall(r"`(\w+)(?:\(.*?\))?`", names)]
    assert listed == aibridge.__all__


def test_every_public_name_exists():
    for name in aibridge.__all__:
        assert getattr(aibridge, name) is not None, name
