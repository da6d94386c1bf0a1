"""docs/plugins.md's plugin, built from the doc's own code blocks, installed and run as the doc says.

Its files are written from the doc's blocks, its shell block runs as written
in the fresh virtualenv of the install tests (pip offline, from the test
environment's wheels), ``aibridge plugins`` lists it as the doc shows, and
its hook fires in a real server. The doc's list of built-in plugins is the
one ``aibridge plugins`` prints.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path

import anthropic
import pytest
from support.wheelhouse import new_user_token, offline_pip_environ

from aibridge.plugins import make_plugin_manager, plugin_names

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
SECTION = re.search(r"^## Writing a plugin\n(.*?)(?=^## )", DOC.read_text(), re.M | re.S).group(1)
HELLO = [{"role": "user", "content": "Say hello"}]


def blocks(language: str) -> list[str]:
    """The section's code blocks in ``language`` ("" for the ones without), in order."""
    return [body for lang, body in re.findall(r"^```(\w*)\n(.*?)^```$", SECTION, re.M | re.S) if lang == language]


def documented_listing() -> dict[str, str]:
    """The doc's sample output of ``aibridge plugins``: plugin -> its line."""
    [sample] = [block for block in blocks("") if block.startswith("PLUGIN ")]
    return {line.split()[0]: line for line in sample.splitlines()[1:]}


def builtin_table() -> list[str]:
    section = re.search(r"^## Built-in plugins\n(.*?)(?=^## )", DOC.read_text(), re.M | re.S).group(1)
    return re.findall(r"^\| `([\w-]+)` \|", section, re.M)


@pytest.fixture
def example_plugin(installed_venv, wheelhouse, tmp_path, process_environ):
    """The doc's plugin written into a directory, and the doc's shell block run next to it; uninstalled after."""
    project = tmp_path / re.search(r"^([\w-]+)/$", blocks("")[0], re.M).group(1)
    project.mkdir()
    for block in blocks("toml") + blocks("python"):
        name = block.splitlines()[0].removeprefix("# ")  # each file's block starts with its name
        (project / name).write_text(block)
    environ = {**offline_pip_environ(process_environ), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse),
               "PATH": f"{installed_venv}:{process_environ['PATH']}", "CODER_DATA_DIR": str(tmp_path / "data")}
    [script] = blocks("sh")
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=environ, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    yield done.stdout, environ
    subprocess.run([installed_venv / "pip", "uninstall", "-y", "aibridge-token-log"], env=environ,
                   capture_output=True, timeout=120)  # fmt: skip


def test_the_doc_lists_every_builtin_plugin_as_aibridge_plugins_names_it():
    builtin = [name for name in plugin_names(make_plugin_manager()) if name != "token-log"]
    assert sorted(builtin_table()) == sorted(builtin)
    assert sorted(documented_listing()) == sorted([*builtin, "token-log"])


def test_the_docs_example_plugin_installs_is_listed_and_its_hook_fires(example_plugin, installed_venv, upstream,
                                                                        spawn):  # fmt: skip
    output, environ = example_plugin
    listing = output[output.index("PLUGIN ") :].splitlines()
    listed = {line.split()[0]: line for line in listing[1:]}
    documented = documented_listing()
    assert sorted(listed) == sorted(documented)
    assert listed["token-log"] == documented["token-log"]

    token = new_user_token(installed_venv, environ, "alice")
    server_environ = {**environ, "CODER_AIBRIDGE_ENABLED": "true", "CODER_AIBRIDGE_ANTHROPIC_KEY": "sk-ant-upstream",
                      "CODER_AIBRIDGE_ANTHROPIC_BASE_URL": upstream.url}  # fmt: skip
    server = spawn([installed_venv / "aibridge", "server", "--http-address", "127.0.0.1:0"], server_environ)
    url = server.wait_for_line(r"aibridge listening on (http://127\.0\.0\.1:\d+)").group(1)
    upstream.queue("anthropic/stream_text")
    client = anthropic.Anthropic(api_key=token, base_url=f"{url}/api/v2/aibridge/anthropic", max_retries=0)
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO) as stream:
        usage = stream.get_final_message().usage
    server.wait_for_line(rf"INFO aibridge\.token_log: tokens: alice used claude-sonnet-4-6: "
                         rf"{usage.input_tokens} in, {usage.output_tokens} out$")  # fmt: skip
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0
