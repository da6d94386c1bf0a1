"""docs/configuration.md is generated from the option tables and must stay in step with them."""

import subprocess
import sys
from pathlib import Path

from aibridge.config.docs import render
from aibridge.config.options import OPTIONS
from aibridge.config.providers import KEYS as PROVIDER_KEYS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "configuration.md"


def test_committed_document_is_the_generated_one():
    assert DOC.read_text() == render(), "run: python -m aibridge.config.docs > docs/configuration.md"


def test_generator_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "aibridge.config.docs"], capture_output=True, text=True, check=True)
    assert result.stdout == DOC.read_text()
    check = subprocess.run([sys.executable, "-m", "aibridge.config.docs", "--check", str(DOC)])
    assert check.returncode == 0


def test_every_option_and_key_is_documented():
    text = DOC.read_text()
    for opt in OPTIONS:
        assert f"`{opt.flag}`" in text and f"`{opt.env}`" in text
        if opt.yaml_path:
            assert f"`{opt.yaml_key}`" in text
    for key in PROVIDER_KEYS:
        assert f"| `{key}` |" in text
