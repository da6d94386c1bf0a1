"""Injected tools inside the real server (gevent, monkey patched), two loops at once."""

from __future__ import annotations

import signal
import threading

import anthropic
from support.fakeupstream import FakeUpstream
from support.mcpserver import RETENTION_ANSWER, MCPTestServer

from aibridge.db import open_database
from aibridge.people.users import UserStore

LISTENING = r"aibridge listening on (http://127\.0\.0\.1:\d+)"
QUESTION = [{"role": "user", "content": "How long are interception records kept?"}]


def test_two_concurrent_loops_under_gevent(aibridge_script, spawn, process_environ, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = UserStore(open_database(data_dir / "aibridge.db"))
    store.create_user("alice")
    token = store.create_token("alice", None)[1]
    with FakeUpstream() as first, FakeUpstream() as second, MCPTestServer() as mcp:
        environ = {
            **process_environ,
            "CODER_AIBRIDGE_ENABLED": "true",
            "CODER_DATA_DIR": str(data_dir),
            "CODER_AIBRIDGE_MCP_SERVER_0_NAME": "docs",
            "CODER_AIBRIDGE_MCP_SERVER_0_URL": mcp.url,
        }
        for index, (name, fake) in enumerate((("a", first), ("b", second))):
            fake.queue("anthropic/stream_injected_tool_round1")
            fake.queue("anthropic/stream_injected_tool_round2")
            environ.update({
                f"CODER_AIBRIDGE_PROVIDER_{index}_TYPE": "anthropic",
                f"CODER_AIBRIDGE_PROVIDER_{index}_NAME": name,
                f"CODER_AIBRIDGE_PROVIDER_{index}_BASE_URL": fake.url,
                f"CODER_AIBRIDGE_PROVIDER_{index}_KEY": "sk-upstream",
            })
        server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0"], environ)
        url = server.wait_for_line(LISTENING).group(1)

        answers: dict[str, str] = {}

        def ask(name: str) -> None:
            client = anthropic.Anthropic(api_key=token, base_url=f"{url}/api/v2/aibridge/{name}", max_retries=0, timeout=30)
            with client.messages.stream(model="claude-sonnet-4-6", max_tokens=256, messages=QUESTION) as stream:
                answers[name] = stream.get_final_message().content[-1].text

        threads = [threading.Thread(target=ask, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        assert sorted(answers) == ["a", "b"], server.stderr
        assert all(text.startswith("According to the documentation") for text in answers.values())
        assert mcp.calls == [("search", {"query": "retention policy"})] * 2
        for fake in (first, second):
            second_round = fake.requests[1].json()
            assert second_round["messages"][-1]["content"][0]["content"] == RETENTION_ANSWER
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait() == 0, server.stderr
    assert "Traceback" not in server.stderr, server.stderr
