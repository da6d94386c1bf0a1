"""Once a request went upstream, the gateway lets go of its body while the answer runs (issue 19).

A coding agent's request weighs hundreds of KiB and its answer can stream for
minutes: held until the end, every open stream would cost what its request
weighed. With injected tools the loop keeps what it builds its later rounds
from: the MCP tests cover those rounds.
"""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor

import anthropic
import openai
import pytest
from support.recorder_support import wait_until

from aibridge.apis.base import Api

LONG_TURN = "Here is the file you asked about:\n" + "def f():\n    return 42\n" * 40_000  # ~1 MiB


def live_apis() -> list[Api]:
    """The request objects alive now (those of finished interceptions are collected first)."""
    gc.collect()
    return [obj for obj in gc.get_objects() if isinstance(obj, Api)]


def let_go(api: Api) -> bool:
    return api.raw == b"" and api.body is None and api.upstream_body() == b""


def ask_anthropic(gateway, token, stream: bool):
    client = anthropic.Anthropic(api_key=token, base_url=gateway.bridge_url("anthropic"), max_retries=0)
    return client.messages.create(model="claude-sonnet-4-6", max_tokens=64, stream=stream,
                                  messages=[{"role": "user", "content": LONG_TURN}])


def ask_openai(gateway, token, stream: bool):
    # Without stream_options the gateway sends a copy of the body asking for usage: that copy goes too.
    client = openai.OpenAI(api_key=token, base_url=gateway.bridge_url("openai") + "/v1", max_retries=0)
    return client.chat.completions.create(model="gpt-4.1", stream=stream,
                                          messages=[{"role": "user", "content": LONG_TURN}])


def start(ask, gateway, token, stream: bool):
    """Ask; for a stream, read its first event (the rest waits upstream) and return the events to come."""
    response = ask(gateway, token, stream)
    if not stream:
        return response
    events = iter(response)
    next(events)
    return events


CASES = {
    "messages stream": (ask_anthropic, "claude-sonnet-4-6", "anthropic/stream_text", True),
    "messages blocking": (ask_anthropic, "claude-sonnet-4-6", "anthropic/blocking_text", False),
    "chat stream": (ask_openai, "gpt-4.1", "openai/chat_stream_text", True),
    "chat blocking": (ask_openai, "gpt-4.1", "openai/chat_blocking_text", False),
}


@pytest.mark.parametrize("case", CASES)
def test_the_body_is_let_go_while_the_answer_runs_and_the_prompt_is_still_recorded(
        gateway, token, upstream, collector, case):
    ask, model, fixture, stream = CASES[case]
    earlier = live_apis()  # those of other tests' interceptions still alive, if any
    upstream.queue(fixture, hold_after=1 if stream else 0)  # the answer's head arrives, then it waits
    with ThreadPoolExecutor(1) as pool:  # a blocking answer keeps its client waiting until the end
        answer = pool.submit(start, ask, gateway, token, stream)
        try:
            assert len(upstream.wait_for_requests(1)[0].body) > 1_000_000  # sent whole
            ours = [api for api in live_apis() if getattr(api, "model", None) == model
                    and not any(api is old for old in earlier)]
            assert len(ours) == 1, "the interception in flight was not found"
            # Then let go, once the answer's head arrived.
            wait_until(lambda: let_go(ours[0]), what="the body let go")
        finally:
            upstream.release_held()
        response = answer.result(timeout=10)
    if stream:
        assert list(response)  # the rest of the stream
    collector.wait_for_ends(1)
    assert collector.of("prompt_usage")[0].prompt == LONG_TURN
