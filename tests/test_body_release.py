"""Once a request went upstream, the gateway lets go of its body while the answer runs (issue 19).

A coding agent's request weighs hundreds of KiB and its answer can stream for
minutes: held until the end, every open stream would cost what its request
weighed. The injected-tool loop keeps the body (its later rounds are built
from it): the MCP tests cover that.
"""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.anthropic_support import client  # noqa: F401
from support.recorder_support import wait_until

from aibridge.apis.base import Api

MODEL = "claude-sonnet-4-6"
LONG_TURN = "Here is the file you asked about:\n" + "def f():\n    return 42\n" * 40_000  # ~1 MiB


def in_flight() -> list[Api]:
    """The request objects of the interceptions alive now (those of finished ones are collected first)."""
    gc.collect()
    return [obj for obj in gc.get_objects() if isinstance(obj, Api) and obj.model == MODEL]


@pytest.mark.parametrize("fixture, stream", [("anthropic/stream_text", True), ("anthropic/blocking_text", False)])
def test_the_body_is_let_go_while_the_answer_runs_and_the_prompt_is_still_recorded(
        client, upstream, collector, fixture, stream):  # noqa: F811
    upstream.queue(fixture, hold_after=1 if stream else 0)  # the answer's head arrives, then it waits
    messages = [{"role": "user", "content": LONG_TURN}]
    pool = ThreadPoolExecutor(1)
    if stream:
        answer = client.messages.create(model=MODEL, max_tokens=64, messages=messages, stream=True)
        events = iter(answer)
        assert next(events).type == "message_start"
    else:  # the client waits for the whole answer
        future = pool.submit(client.messages.create, model=MODEL, max_tokens=64, messages=messages)
    try:
        wait_until(lambda: in_flight(), what="the interception in flight")
        # Sent whole, then let go: for a blocking answer, once its head arrived.
        wait_until(lambda: all(api.raw == b"" and api.body is None for api in in_flight()), what="the body let go")
        assert len(upstream.requests[0].body) > 1_000_000
    finally:
        upstream.release_held()
    if stream:
        assert [event.type for event in events][-1] == "message_stop"
    else:
        assert future.result(timeout=10).stop_reason == "end_turn"
    pool.shutdown()
    collector.wait_for_ends(1)
    assert collector.of("prompt_usage")[0].prompt == LONG_TURN
