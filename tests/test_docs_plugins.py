"""docs/plugins.md documents every hook, with its signature and an example."""

import inspect
import re
from pathlib import Path

from aibridge import hookspecs

DOC = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()


def hookspec_signatures() -> dict[str, str]:
    specs = {name: fn for name, fn in vars(hookspecs).items() if inspect.isfunction(fn) and hasattr(fn, "aibridge_spec")}
    return {name: f"{name}({', '.join(inspect.signature(fn).parameters)})" for name, fn in specs.items()}


def test_every_hook_has_a_section_with_its_signature_and_an_example():
    signatures = hookspec_signatures()
    assert len(signatures) >= 14
    found = re.findall(r"^### (\w+)(\(.*?\))\n(.*?)(?=^### |^## |\Z)", DOC, re.M | re.S)
    sections = {name: (args, body) for name, args, body in found}
    for name, signature in signatures.items():
        assert name in sections, f"docs/plugins.md has no section for {name}"
        args, body = sections[name]
        assert name + args == signature, f"docs/plugins.md shows {name}{args}, the hookspec is {signature}"
        assert "```python" in body and f"def {name}(" in body, f"the {name} section has no example implementing it"


def test_no_section_for_a_hook_that_does_not_exist():
    documented = set(re.findall(r"^### (\w+)\(", DOC, re.M))
    assert documented <= set(hookspec_signatures())
