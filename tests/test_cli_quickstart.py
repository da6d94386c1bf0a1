"""The README's quick start: exactly two commands, CI runs the test one verbatim, the server one works."""

import os
import re
import shlex
import signal
import stat
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def quick_start_commands() -> list[str]:
    text = README.read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [block.strip() for block in blocks]


def test_quick_start_is_exactly_two_one_line_commands():
    commands = quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    serve, test = commands
    assert serve.startswith("python3 -m venv .venv && .venv/bin/pip install -e . && ")
    assert serve.endswith(".venv/bin/aibridge server")
    assert test == "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"


def test_ci_runs_the_readme_test_command_verbatim():
    script = ROOT / ".ci" / "run"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert script.stat().st_mode & stat.S_IXUSR
    assert quick_start_commands()[1] in script.read_text().splitlines()


def test_links_in_readme_and_docs_index_resolve():
    for page in (README, ROOT / "docs" / "index.md"):
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith("http"):
                assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_quick_start_server_command_runs(spawn, process_environ):
    """The part of command (a) after the installation, run as written from the repository root."""
    *assignments, executable, subcommand = shlex.split(quick_start_commands()[0].rsplit(" && ", 1)[1])
    if not (ROOT / executable).exists():
        pytest.skip("this environment is not the repository's .venv")
    environ = {**process_environ, "CODER_HTTP_ADDRESS": "127.0.0.1:0"}  # the default port may be taken here
    environ.update(dict(item.split("=", 1) for item in assignments))
    server = spawn([ROOT / executable, subcommand], environ)
    url = server.wait_for_line(r"aibridge listening on (http://\S+)").group(1)
    assert requests.get(url + "/healthz", timeout=30).status_code == 200
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    assert "note: AI Gateway is not enabled" not in server.stderr
    assert os.path.join(environ["XDG_DATA_HOME"], "aibridge") in server.stderr
