"""docs/deployment.md's gunicorn deployment, installed as it says into a fresh virtualenv and run as it says.

``pip install 'aibridge[gunicorn]'`` runs offline, from wheels of this test
environment (see wheelhouse.py); the gunicorn command is the guide's own,
with two workers and free ports, and a request goes through it to the fake
upstream and is counted once on the one metrics endpoint of both workers. Without the extra's ``packaging`` the same command fails at once:
``class uri 'gevent' invalid or not found ... No module named 'packaging'``.
"""

from __future__ import annotations

import re
import shlex
import signal

import anthropic
from conftest import DEPLOYMENT_DOC
from support.wheelhouse import new_user_token
from support.faults import free_port
from support.metrics_support import scrape_until_counted, value

HELLO = [{"role": "user", "content": "Say hello"}]


def documented_deployment() -> tuple[dict[str, str], list[str]]:
    """The worked example's exported variables and its gunicorn command line."""
    text = DEPLOYMENT_DOC.read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    [block] = [b for b in blocks if "gunicorn -c python:aibridge.gunicorn_conf" in b]
    lines = block.replace("\\\n", " ").splitlines()
    exports = dict(line.removeprefix("export ").split("=", 1) for line in lines if line.startswith("export "))
    [command] = [shlex.split(line) for line in lines if line.startswith("gunicorn ")]
    return exports, command


def replaced(argv: list[str], option: str, old: str, new: str) -> list[str]:
    """``argv`` with ``option old`` turned into ``option new``; the guide must still say ``option old``."""
    at = argv.index(option)
    assert argv[at + 1] == old, f"docs/deployment.md now says {option} {argv[at + 1]}: update this test"
    return [*argv[: at + 1], new, *argv[at + 2 :]]


def test_the_documented_gunicorn_command_serves_from_a_fresh_install(installed_venv, spawn, upstream, tmp_path,
                                                                      process_environ):  # fmt: skip
    exports, command = documented_deployment()
    assert exports["CODER_PROMETHEUS_ENABLE"] == "true"
    metrics_address = f"127.0.0.1:{free_port()}"
    environ = {**process_environ, **exports, "PATH": f"{installed_venv}:{process_environ['PATH']}",
               "CODER_PROMETHEUS_ADDRESS": metrics_address,
               "CODER_DATA_DIR": str(tmp_path / "data"), "CODER_AIBRIDGE_ANTHROPIC_KEY": "sk-ant-upstream",
               "CODER_AIBRIDGE_ANTHROPIC_BASE_URL": upstream.url}  # fmt: skip
    assert set(exports) >= {"CODER_AIBRIDGE_ENABLED", "CODER_DATA_DIR", "CODER_AIBRIDGE_ANTHROPIC_KEY"}

    token = new_user_token(installed_venv, environ, "alice")

    command = replaced(replaced(command, "-w", "4", "2"), "-b", "127.0.0.1:3000", "127.0.0.1:0")
    master = spawn([installed_venv / command[0], *command[1:]], environ)
    url = master.wait_for_line(r"Listening at: (http://127\.0\.0\.1:\d+)").group(1)
    for _ in range(2):
        master.wait_for_line(r"aibridge worker \d+ ready")

    upstream.queue("anthropic/stream_text")
    client = anthropic.Anthropic(api_key=token, base_url=f"{url}/api/v2/aibridge/anthropic", max_retries=0)
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO) as stream:
        assert stream.get_final_text()
    assert upstream.requests[-1].headers["x-api-key"] == "sk-ant-upstream"
    samples = scrape_until_counted(f"http://{metrics_address}/metrics", 1)
    assert value(samples, "coder_ai_gateway_interceptions_total", status="completed") == 1

    master.proc.send_signal(signal.SIGTERM)
    assert master.wait() == 0, master.stderr
    assert len(re.findall(r"aibridge worker \d+ shut down", master.stderr)) == 2, master.stderr
    assert "Traceback" not in master.stderr
    assert "metrics are not served" not in master.stderr
