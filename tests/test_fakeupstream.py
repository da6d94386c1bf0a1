"""The fake upstream replays answers faithfully, and every fixture is well-formed and self-consistent."""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import threading
import time

import anthropic
import openai
import pytest

from support.fakeupstream import (
    BEFORE_HEADERS,
    FIXTURES_DIR,
    FakeUpstream,
    Response,
    load_fixture,
    split_eventstream_messages,
    split_sse_events,
)

FIXTURE_NAMES = sorted(path.relative_to(FIXTURES_DIR).with_suffix("").as_posix()
                       for path in FIXTURES_DIR.rglob("*.http"))


@pytest.fixture
def upstream():
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def connect():
    """Open http.client connections to a fake upstream, closed after the test."""
    connections = []

    def open_connection(server: FakeUpstream) -> http.client.HTTPConnection:
        connections.append(http.client.HTTPConnection("127.0.0.1", server.port, timeout=10))
        return connections[-1]

    yield open_connection
    for connection in connections:
        connection.close()


# -- reading raw HTTP, so chunk boundaries stay visible ------------------------


class RawResponse:
    """A response read off a socket by hand: status, headers and the body's chunks as framed."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.file = sock.makefile("rb")
        status_line = self.file.readline().decode()
        if not status_line:
            raise ConnectionError("connection closed before a status line")
        self.status = int(status_line.split()[1])
        self.headers = {}
        while (line := self.file.readline().decode()) not in ("\r\n", ""):
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def __enter__(self) -> RawResponse:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (the socket only really closes once its file is closed too)."""
        self.file.close()
        self.sock.close()

    def next_chunk(self) -> bytes | None:
        """The next chunk's payload; b"" for the terminating chunk, None if the connection ended first."""
        size_line = self.file.readline()
        if not size_line:
            return None
        size = int(size_line, 16)
        data = self.file.read(size)
        if len(data) < size or self.file.readline() != b"\r\n":
            return None
        return data

    def chunks(self) -> tuple[list[bytes], bool]:
        """All remaining chunks, and whether the terminating chunk arrived."""
        chunks = []
        while (chunk := self.next_chunk()):
            chunks.append(chunk)
        return chunks, chunk == b""


def raw_request(upstream: FakeUpstream, method: str = "POST", path: str = "/v1/messages",
                body: bytes = b"{}") -> RawResponse:
    """Send one request over a fresh socket and read the status line and headers."""
    sock = socket.create_connection(("127.0.0.1", upstream.port), timeout=10)
    sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: upstream\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return RawResponse(sock)


# -- the server ------------------------------------------------------------------


def test_streaming_fixture_is_replayed_one_event_per_chunk(upstream):
    upstream.queue("anthropic/stream_text")
    with raw_request(upstream) as response:
        chunks, complete = response.chunks()
    fixture = load_fixture("anthropic/stream_text")
    assert response.status == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["request-id"] == fixture.header("request-id")
    assert "content-length" not in response.headers
    assert complete
    assert chunks == split_sse_events(fixture.body)
    assert len(chunks) == fixture.body.count(b"\n\n") == 9
    assert all(chunk.endswith(b"\n\n") and chunk.count(b"\n\n") == 1 for chunk in chunks)


def test_events_are_flushed_before_the_answer_ends(upstream):
    # The upstream holds the rest back, so the two events can only be read if each was flushed.
    upstream.queue("anthropic/stream_text", stall_after=2)
    with raw_request(upstream) as response:
        first, second = response.next_chunk(), response.next_chunk()
    assert first.startswith(b"event: message_start\n")
    assert second.startswith(b"event: content_block_start\n")


def test_non_sse_body_is_sent_with_content_length(upstream):
    upstream.queue("anthropic/blocking_text")
    with raw_request(upstream) as response:
        length = int(response.headers["content-length"])
        body = response.file.read(length)
    assert "transfer-encoding" not in response.headers
    assert body == load_fixture("anthropic/blocking_text").body
    assert json.loads(body)["type"] == "message"


def test_answers_come_in_queue_order_and_path_queues_go_first(upstream, connect):
    upstream.queue(Response(200, {"content-type": "text/plain"}, b"first"))
    upstream.queue(Response(200, {"content-type": "text/plain"}, b"second"))
    upstream.queue_for("/v1/models", "anthropic/models_list")
    connection = connect(upstream)
    answers = []
    for path in ("/v1/messages", "/v1/models?limit=20", "/v1/messages", "/v1/models"):
        connection.request("GET", path)
        reply = connection.getresponse()
        answers.append((reply.status, reply.read()))
    assert answers[0] == (200, b"first")
    assert answers[1] == (200, load_fixture("anthropic/models_list").body)
    assert answers[2] == (200, b"second")
    assert answers[3] == (599, b"fake upstream: nothing queued for GET /v1/models")
    assert upstream.pending == 0


def test_requests_are_recorded(upstream, connect):
    upstream.queue("anthropic/blocking_text")
    upstream.queue("openai/chat_blocking_text")
    connection = connect(upstream)
    connection.request("POST", "/v1/messages?beta=true", body=b'{"model": "claude-sonnet-4-5"}',
                       headers={"X-Api-Key": "sk-ant-test", "anthropic-version": "2023-06-01"})
    connection.getresponse().read()
    # A chunked request body, as a relay streaming the client's body upstream would send it.
    connection.request("POST", "/v1/chat/completions", body=iter([b'{"model":', b' "gpt-4.1"}']),
                       headers={"Authorization": "Bearer sk-test"}, encode_chunked=True)
    connection.getresponse().read()
    first, second = upstream.wait_for_requests(2, timeout=5)
    assert (first.method, first.path) == ("POST", "/v1/messages?beta=true")
    assert first.headers["x-api-key"] == first.headers["X-API-KEY"] == "sk-ant-test"
    assert first.headers["Anthropic-Version"] == "2023-06-01"
    assert first.json() == {"model": "claude-sonnet-4-5"}
    assert second.headers["transfer-encoding"] == "chunked"
    assert second.body == b'{"model": "gpt-4.1"}'
    assert second.headers["authorization"] == "Bearer sk-test"


def test_nothing_queued_answers_599_naming_the_request(upstream, connect):
    connection = connect(upstream)
    connection.request("DELETE", "/v1/responses/resp_123")
    reply = connection.getresponse()
    assert reply.status == 599
    assert reply.read() == b"fake upstream: nothing queued for DELETE /v1/responses/resp_123"
    assert [r.path for r in upstream.requests] == ["/v1/responses/resp_123"]


def test_status_and_headers_can_be_overridden(upstream, connect):
    upstream.queue("openai/chat_blocking_text", status=503, headers={"retry-after": "3", "x-request-id": None})
    connection = connect(upstream)
    connection.request("POST", "/v1/chat/completions", body=b"{}")
    reply = connection.getresponse()
    assert (reply.status, reply.reason) == (503, "Service Unavailable")
    assert reply.getheader("retry-after") == "3"
    assert reply.getheader("x-request-id") is None
    assert reply.read() == load_fixture("openai/chat_blocking_text").body


def test_stall_after_holds_the_stream_and_stop_ends_it():
    server = FakeUpstream().start()
    try:
        server.queue("openai/responses_stream_text", stall_after=3)
        response = raw_request(server, path="/v1/responses")
        received = [response.next_chunk() for _ in range(3)]
    finally:
        server.stop()
    with response:
        rest = response.next_chunk()
    assert [json.loads(c.split(b"data: ")[1])["sequence_number"] for c in received] == [0, 1, 2]
    assert rest is None  # the connection ended without the terminating chunk


def test_stall_ends_when_the_client_goes_away(upstream):
    upstream.queue("anthropic/stream_text", stall_after=1)
    with raw_request(upstream) as response:
        assert response.next_chunk().startswith(b"event: message_start")
    thread_name = f"fakeupstream-{upstream.port}-connection"
    deadline = time.monotonic() + 10
    while any(t.name == thread_name for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the stalled handler outlived its client"
        time.sleep(0.005)


def test_stall_before_headers_and_stop(upstream):
    upstream.queue("openai/chat_stream_text", stall_after=BEFORE_HEADERS)
    sock = socket.create_connection(("127.0.0.1", upstream.port), timeout=10)
    sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: upstream\r\n\r\n")
    upstream.wait_for_requests(1)
    upstream.stop()
    with sock:
        assert sock.recv(1024) == b""


def test_close_after_ends_the_stream_abruptly(upstream, connect):
    upstream.queue("openai/chat_stream_text_usage", close_after=2)
    connection = connect(upstream)
    connection.request("POST", "/v1/chat/completions", body=b"{}")
    reply = connection.getresponse()
    assert reply.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        reply.read()
    events = split_sse_events(load_fixture("openai/chat_stream_text_usage").body)
    assert caught.value.partial == events[0] + events[1]


def test_close_before_headers(upstream, connect):
    upstream.queue("openai/chat_stream_text", close_after=BEFORE_HEADERS)
    connection = connect(upstream)
    connection.request("POST", "/v1/chat/completions", body=b"{}")
    with pytest.raises(http.client.RemoteDisconnected):
        connection.getresponse()


def test_delay_between_events_still_delivers_every_event(upstream):
    upstream.queue("anthropic/stream_haiku_text", delay=0.001)
    with raw_request(upstream) as response:
        chunks, complete = response.chunks()
    assert complete
    assert chunks == split_sse_events(load_fixture("anthropic/stream_haiku_text").body)


def test_hold_after_keeps_the_answer_until_released(upstream):
    upstream.reset()
    upstream.queue("anthropic/stream_text", hold_after=2)
    with raw_request(upstream) as response:
        first, second = response.next_chunk(), response.next_chunk()
        readable, _, _ = select.select([response.sock], [], [], 0.2)
        assert readable == []  # held: nothing more comes
        upstream.release_held()
        chunks, complete = response.chunks()
    assert complete
    assert [first, second, *chunks] == split_sse_events(load_fixture("anthropic/stream_text").body)


def test_binary_chunks_are_sent_one_by_one(upstream):
    messages = [eventstream_message(b"first"), eventstream_message(b"second payload")]
    upstream.queue(Response(200, {"content-type": "application/vnd.amazon.eventstream"}, b"".join(messages)))
    upstream.queue(Response(200, {"content-type": "application/octet-stream"}, [b"\x00\x01", b"\xff"]))
    with raw_request(upstream, path="/model/m/invoke-with-response-stream") as response:
        assert response.chunks() == (messages, True)
    with raw_request(upstream) as response:
        assert response.chunks() == ([b"\x00\x01", b"\xff"], True)


def test_connection_is_kept_alive_between_answers(upstream, connect):
    for _ in range(3):
        upstream.queue("openai/chat_stream_text")
    connection = connect(upstream)
    bodies, sockets = [], set()
    for _ in range(3):
        connection.request("POST", "/v1/chat/completions", body=b"{}")
        bodies.append(connection.getresponse().read())
        sockets.add(connection.sock)
    assert len(sockets) == 1 and None not in sockets
    assert bodies == [load_fixture("openai/chat_stream_text").body] * 3
    assert len(upstream.requests) == 3


def test_reset_and_wait_for_requests(upstream, connect):
    upstream.queue("anthropic/count_tokens")
    upstream.queue("anthropic/count_tokens")
    connection = connect(upstream)
    connection.request("POST", "/v1/messages/count_tokens", body=b"{}")
    assert connection.getresponse().read() == b'{"input_tokens":2095}'
    assert len(upstream.wait_for_requests(1)) == 1 and upstream.pending == 1
    upstream.reset()
    assert upstream.requests == [] and upstream.pending == 0
    with pytest.raises(AssertionError, match="expected 1 requests"):
        upstream.wait_for_requests(1, timeout=0.01)


def test_bad_fixture_names_and_options_fail_clearly(upstream):
    with pytest.raises(FileNotFoundError, match="anthropic/no_such_fixture"):
        upstream.queue("anthropic/no_such_fixture")
    with pytest.raises(ValueError, match="not both"):
        upstream.queue("anthropic/stream_text", stall_after=1, close_after=2)


def test_split_eventstream_messages_rejects_truncated_streams():
    message = eventstream_message(b"payload")
    assert split_eventstream_messages(message * 2) == [message, message]
    with pytest.raises(ValueError, match="bad message length"):
        split_eventstream_messages(message[:-1])


def eventstream_message(payload: bytes) -> bytes:
    """An AWS event stream message without headers (the CRCs are not checked here, so zeros do)."""
    total = 12 + len(payload) + 4
    return total.to_bytes(4, "big") + (0).to_bytes(4, "big") + b"\0" * 4 + payload + b"\0" * 4


# -- every fixture is well-formed --------------------------------------------------


def sse_events(body: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of every SSE event in ``body``."""
    events = []
    for raw in split_sse_events(body):
        assert raw.endswith(b"\n\n"), f"event without its blank line: {raw[:80]!r}"
        assert b"\r" not in raw, "SSE bodies use \\n line endings"
        name, data = None, []
        for line in raw.decode().rstrip("\n").split("\n"):
            field, _, value = line.partition(": ")
            assert field in ("event", "data"), f"unexpected SSE line {line!r}"
            if field == "event":
                name = value
            else:
                data.append(value)
        assert data, f"event without data: {raw!r}"
        events.append((name, "\n".join(data)))
    return events


def parsed(events):
    """The events' data as JSON."""
    return [(name, json.loads(data)) for name, data in events]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_is_well_formed(name):
    response = load_fixture(name)
    raw = (FIXTURES_DIR / f"{name}.http").read_bytes()
    assert re.match(rb"HTTP/1\.1 \d{3} [A-Z][A-Za-z ]+\n", raw), "status line"
    assert response.header("content-type"), "content-type header"
    assert response.header("date"), "date header"
    api = name.split("/")[0]
    if api == "anthropic":
        assert re.fullmatch(r"req_011C[A-Za-z0-9]{20}", response.header("request-id"))
    elif api == "openai":
        assert re.fullmatch(r"req_[0-9a-f]{32}", response.header("x-request-id"))
    else:
        assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", response.header("x-amzn-requestid"))
    if response.status == 429 and api != "bedrock":
        assert response.header("retry-after")
    check_content(name, response)


def check_content(name: str, response: Response) -> None:
    """Dispatch to the checks for the fixture's API and shape."""
    api, base = name.split("/")
    content_type = response.header("content-type")
    if response.status >= 400:
        assert content_type == "application/json"
        check_error_body(api, json.loads(response.body), response)
    elif content_type == "application/vnd.amazon.eventstream":
        assert split_eventstream_messages(response.body_bytes())
    elif content_type.startswith("text/event-stream"):
        events = sse_events(response.body)
        if api == "anthropic":
            check_anthropic_stream(base, parsed(events))
        elif base.startswith("chat_"):
            check_chat_stream(base, events)
        else:
            check_responses_stream(base, parsed(events))
    else:
        assert content_type == "application/json"
        body = json.loads(response.body)
        if api == "anthropic" and body.get("type") == "message":
            check_anthropic_message(body)
        elif base.startswith("chat_"):
            check_chat_completion(body)
        elif base.startswith("responses_"):
            check_response_object(body, body["output"])
        elif base == "models_list":
            assert body["data"] and all(model["id"] for model in body["data"])
        else:
            assert base == "count_tokens" and body["input_tokens"] > 0


def check_error_body(api: str, body: dict, response: Response) -> None:
    """Anthropic: {"type":"error","error":{type,message}}; OpenAI: {"error":{message,type,param,code}};
    Bedrock: {"message"} with the exception name in x-amzn-ErrorType."""
    if api == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"].endswith("_error") and body["error"]["message"]
    elif api == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["message"]
    else:
        assert body["message"]
        assert re.match(r"[A-Za-z]+Exception(:|$)", response.header("x-amzn-errortype"))


# -- Anthropic ------------------------------------------------------------------

ANTHROPIC_DELTAS = {"text": {"text_delta"}, "thinking": {"thinking_delta", "signature_delta"},
                    "tool_use": {"input_json_delta"}, "redacted_thinking": set()}


def check_anthropic_stream(base: str, events: list) -> None:
    """Event order, block bookkeeping, tool input JSON, and cumulative usage."""
    assert all(name == data["type"] for name, data in events), "event name matches data.type"
    assert events[0][0] == "message_start"
    message = events[0][1]["message"]
    assert re.fullmatch(r"msg_01[A-Za-z0-9]{22}", message["id"])
    start_usage = message["usage"]
    blocks, finished, delta_usage, stop_reason = {}, [], None, None
    for name, data in events[1:]:
        if name == "content_block_start":
            assert data["index"] == len(finished) and not blocks, "blocks come one after another"
            blocks[data["index"]] = dict(data["content_block"], partial="")
        elif name == "content_block_delta":
            block = blocks[data["index"]]
            assert data["delta"]["type"] in ANTHROPIC_DELTAS[block["type"]]
            if data["delta"]["type"] == "input_json_delta":
                block["partial"] += data["delta"]["partial_json"]
            elif data["delta"]["type"] == "signature_delta":
                block["signature"] = data["delta"]["signature"]
        elif name == "content_block_stop":
            block = blocks.pop(data["index"])
            if block["type"] == "tool_use":
                assert block["id"].startswith("toolu_01")
                assert isinstance(json.loads(block["partial"]), dict)
            if block["type"] == "thinking":
                assert block["signature"], "a thinking block ends with its signature"
            finished.append(block)
        elif name == "message_delta":
            delta_usage, stop_reason = data["usage"], data["delta"]["stop_reason"]
        elif name == "error":
            assert (name, data) == events[-1] and base.endswith("midstream")
            return
    assert events[-1][0] == "message_stop" and not blocks
    assert delta_usage["output_tokens"] >= start_usage["output_tokens"]
    for key in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
        if key in delta_usage:
            assert delta_usage[key] == start_usage[key], f"message_delta repeats {key}"
    assert (stop_reason == "tool_use") == any(block["type"] == "tool_use" for block in finished)


def check_anthropic_message(body: dict) -> None:
    """A non-streaming message: ids, tool inputs, stop reason and usage."""
    assert re.fullmatch(r"msg_01[A-Za-z0-9]{22}", body["id"])
    usage = body["usage"]
    assert usage["input_tokens"] >= 0 and usage["output_tokens"] > 0
    cache = usage["cache_creation"]
    assert cache["ephemeral_5m_input_tokens"] + cache["ephemeral_1h_input_tokens"] == usage["cache_creation_input_tokens"]
    tools = [block for block in body["content"] if block["type"] == "tool_use"]
    assert all(isinstance(block["input"], dict) for block in tools)
    assert (body["stop_reason"] == "tool_use") == bool(tools)


# -- OpenAI Chat Completions ------------------------------------------------------


def check_chat_stream(base: str, events: list) -> None:
    """Chunks of one completion, tool call arguments by index, and the usage chunk."""
    assert all(name is None for name, _ in events), "Chat streams have data lines only"
    datas = [data for _, data in events]
    if base.endswith("error_midstream"):
        assert "[DONE]" not in datas
        assert set(json.loads(datas[-1])) == {"error"}
        datas = datas[:-1]
    else:
        assert datas[-1] == "[DONE]" and datas.count("[DONE]") == 1
        datas = datas[:-1]
    chunks = [json.loads(data) for data in datas]
    assert len({(c["id"], c["model"], c["created"]) for c in chunks}) == 1
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", chunks[0]["id"])
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    with_usage = ["usage" in c for c in chunks]
    assert all(with_usage) or not any(with_usage), "usage is in every chunk or in none"
    if all(with_usage) and chunks[-1]["choices"] == []:
        check_chat_usage(chunks[-1]["usage"])
        chunks = chunks[:-1]
    assert all(c.get("usage") is None and len(c["choices"]) == 1 for c in chunks)
    calls, finish = {}, None
    for chunk in chunks:
        choice = chunk["choices"][0]
        for call in choice["delta"].get("tool_calls") or []:
            if call["index"] not in calls:
                assert call["id"].startswith("call_") and call["function"]["name"]
                calls[call["index"]] = ""
            calls[call["index"]] += call["function"]["arguments"]
        finish = choice["finish_reason"] or finish
    assert all(isinstance(json.loads(arguments), dict) for arguments in calls.values())
    if not base.endswith("error_midstream"):
        assert (finish == "tool_calls") == bool(calls)


def check_chat_completion(body: dict) -> None:
    """A non-streaming completion: tool calls and usage."""
    assert body["object"] == "chat.completion"
    choice = body["choices"][0]
    calls = choice["message"].get("tool_calls") or []
    assert all(isinstance(json.loads(call["function"]["arguments"]), dict) for call in calls)
    assert (choice["finish_reason"] == "tool_calls") == bool(calls)
    check_chat_usage(body["usage"])


def check_chat_usage(usage: dict) -> None:
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert 0 <= usage["prompt_tokens_details"]["cached_tokens"] <= usage["prompt_tokens"]
    assert 0 <= usage["completion_tokens_details"]["reasoning_tokens"] <= usage["completion_tokens"]


# -- OpenAI Responses ---------------------------------------------------------------


def check_responses_stream(base: str, events: list) -> None:
    """Sequence numbers, items assembled from deltas, and the terminal event."""
    assert all(name == data["type"] for name, data in events), "event name matches data.type"
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert [name for name, _ in events[:2]] == ["response.created", "response.in_progress"]
    response_id = events[0][1]["response"]["id"]
    assert re.fullmatch(r"resp_[0-9a-f]{48}", response_id)
    items, done, texts = {}, [], {}
    for name, data in events[2:-1]:
        assert not name.startswith("response.") or "response" not in data, f"{name} is not terminal"
        if name == "response.output_item.added":
            assert data["output_index"] == len(items)
            items[data["output_index"]] = data["item"]
        elif name.endswith(".delta"):
            key = (name, data["item_id"], data.get("content_index"), data.get("summary_index"))
            texts[key] = texts.get(key, "") + data["delta"]
        elif name in DONE_FIELDS:
            delta_name, field = DONE_FIELDS[name]
            key = (delta_name, data["item_id"], data.get("content_index"), data.get("summary_index"))
            assert texts.get(key, "") == data[field], f"{name} repeats what its deltas said"
        elif name == "response.output_item.done":
            assert data["item"]["id"] == items[data["output_index"]]["id"]
            done.append(data["item"])
    name, last = events[-1]
    if name == "response.completed":
        assert last["response"]["id"] == response_id
        check_response_object(last["response"], done)
    elif name == "response.failed":
        assert last["response"]["status"] == "failed" and last["response"]["error"]["code"]
    else:
        assert name == "error" and last["message"] and base.endswith("_error")


DONE_FIELDS = {
    "response.output_text.done": ("response.output_text.delta", "text"),
    "response.function_call_arguments.done": ("response.function_call_arguments.delta", "arguments"),
    "response.custom_tool_call_input.done": ("response.custom_tool_call_input.delta", "input"),
    "response.reasoning_summary_text.done": ("response.reasoning_summary_text.delta", "text"),
}

ITEM_ID_PREFIX = {"message": "msg_", "reasoning": "rs_", "function_call": "fc_", "custom_tool_call": "ctc_"}


def check_response_object(response: dict, output: list) -> None:
    """A completed response: its output items and its usage."""
    assert response["object"] == "response" and response["status"] == "completed"
    assert response["output"] == output and output
    for item in output:
        assert item["id"].startswith(ITEM_ID_PREFIX[item["type"]])
        if item["type"] == "function_call":
            assert item["call_id"].startswith("call_") and isinstance(json.loads(item["arguments"]), dict)
    usage = response["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert 0 <= usage["input_tokens_details"]["cached_tokens"] <= usage["input_tokens"]
    assert 0 <= usage["output_tokens_details"]["reasoning_tokens"] <= usage["output_tokens"]


def mutate_event(name: str, marker: bytes, change) -> bytes:
    """Fixture ``name``'s body with ``change`` applied to the data of its last event containing ``marker``."""
    events = split_sse_events(load_fixture(name).body)
    position = max(i for i, raw in enumerate(events) if marker in raw)
    head, _, data = events[position].rstrip(b"\n").rpartition(b"data: ")
    payload = json.loads(data)
    change(payload)
    events[position] = head + b"data: " + json.dumps(payload).encode() + b"\n\n"
    return b"".join(events)


def shrink_output(event):
    event["usage"]["output_tokens"] = 0


def bump_sequence(event):
    event["sequence_number"] += 1


def bump_total(event):
    event["response"]["usage"]["total_tokens"] += 1


def break_cached(event):
    event["usage"]["prompt_tokens_details"]["cached_tokens"] = event["usage"]["prompt_tokens"] + 1


def repeat_other_input(event):
    event["usage"]["cache_read_input_tokens"] += 1


@pytest.mark.parametrize("name, marker, change", [
    ("anthropic/stream_text", b'"type":"message_delta"', shrink_output),
    ("anthropic/stream_cache_tokens", b'"type":"message_delta"', repeat_other_input),
    ("openai/responses_stream_text", b'"type":"response.output_text.delta"', bump_sequence),
    ("openai/responses_stream_cached_tokens", b'"type":"response.completed"', bump_total),
    ("openai/chat_stream_cached_tokens", b'"usage":{', break_cached),
])
def test_fixture_checks_catch_inconsistencies(name, marker, change):
    fixture = load_fixture(name)
    broken = Response(fixture.status, fixture.headers, mutate_event(name, marker, change))
    with pytest.raises(AssertionError):
        check_content(name, broken)


def test_readme_describes_every_fixture():
    readme = (FIXTURES_DIR / "README.md").read_text()
    missing = [name for name in FIXTURE_NAMES if f"`{name.split('/')[1]}`" not in readme]
    assert not missing


# -- the official SDKs read the fixtures ----------------------------------------------


@pytest.fixture(scope="module")
def shared_upstream():
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def sdk_upstream(shared_upstream):
    shared_upstream.reset()
    yield shared_upstream
    assert shared_upstream.pending == 0


def anthropic_client(upstream):
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=upstream.url, max_retries=0)


def openai_client(upstream):
    return openai.OpenAI(api_key="sk-test", base_url=f"{upstream.url}/v1", max_retries=0)


def fixture_events(name: str) -> list:
    return parsed(sse_events(load_fixture(name).body))


ANTHROPIC_STREAMS = [n for n in FIXTURE_NAMES if n.startswith("anthropic/stream_") and "overloaded" not in n]


@pytest.mark.parametrize("name", ANTHROPIC_STREAMS)
def test_anthropic_sdk_reads_stream(sdk_upstream, name):
    sdk_upstream.queue(name)
    with anthropic_client(sdk_upstream) as client, client.messages.stream(
            model="claude-haiku-4-5", max_tokens=1024, messages=[{"role": "user", "content": "hi"}]) as stream:
        message = stream.get_final_message()
    events = fixture_events(name)
    final_delta = [data for kind, data in events if kind == "message_delta"][-1]
    assert message.usage.output_tokens == final_delta["usage"]["output_tokens"]
    assert message.usage.input_tokens == events[0][1]["message"]["usage"]["input_tokens"]
    assert message.stop_reason == final_delta["delta"]["stop_reason"]
    assert [block.type for block in message.content] == [
        data["content_block"]["type"] for kind, data in events if kind == "content_block_start"]
    assert sdk_upstream.requests[0].path == "/v1/messages"


def test_anthropic_sdk_sees_the_midstream_error(sdk_upstream):
    sdk_upstream.queue("anthropic/stream_overloaded_midstream")
    with anthropic_client(sdk_upstream) as client, pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=64,
                                    messages=[{"role": "user", "content": "hi"}]) as stream:
            stream.get_final_message()
    assert caught.value.body["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize("name", [n for n in FIXTURE_NAMES if n.startswith("anthropic/blocking_")])
def test_anthropic_sdk_reads_message(sdk_upstream, name):
    sdk_upstream.queue(name)
    with anthropic_client(sdk_upstream) as client:
        message = client.messages.create(model="claude-haiku-4-5", max_tokens=1024,
                                         messages=[{"role": "user", "content": "hi"}])
    assert message.model_dump(exclude_none=True) == without_none(json.loads(load_fixture(name).body))


def without_none(value):
    """``value`` with None entries dropped from every dict, as pydantic's exclude_none does."""
    if isinstance(value, dict):
        return {key: without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


@pytest.mark.parametrize("name, error", [("anthropic/error_400_invalid_request", anthropic.BadRequestError),
                                         ("anthropic/error_429_rate_limit", anthropic.RateLimitError),
                                         ("anthropic/error_500_api_error", anthropic.InternalServerError),
                                         ("openai/error_400", openai.BadRequestError),
                                         ("openai/error_429", openai.RateLimitError),
                                         ("openai/error_500", openai.InternalServerError)])
def test_sdks_raise_the_documented_errors(sdk_upstream, name, error):
    sdk_upstream.queue(name)
    if name.startswith("anthropic/"):
        with anthropic_client(sdk_upstream) as client, pytest.raises(error) as caught:
            client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[])
    else:
        with openai_client(sdk_upstream) as client, pytest.raises(error) as caught:
            client.chat.completions.create(model="gpt-4.1", messages=[])
    assert caught.value.body is not None


def test_sdks_read_passthrough_answers(sdk_upstream):
    sdk_upstream.queue("anthropic/models_list")
    sdk_upstream.queue("anthropic/count_tokens")
    sdk_upstream.queue("openai/models_list")
    with anthropic_client(sdk_upstream) as client:
        assert "claude-sonnet-4-5-20250929" in [model.id for model in client.models.list()]
        counted = client.messages.count_tokens(model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}])
        assert counted.input_tokens == 2095
    with openai_client(sdk_upstream) as client:
        assert "gpt-4.1" in [model.id for model in client.models.list()]
    assert [(r.method, r.path.split("?")[0]) for r in sdk_upstream.requests] == [
        ("GET", "/v1/models"), ("POST", "/v1/messages/count_tokens"), ("GET", "/v1/models")]


CHAT_STREAMS = [n for n in FIXTURE_NAMES if n.startswith("openai/chat_stream_") and "error" not in n]


@pytest.mark.parametrize("name", CHAT_STREAMS)
def test_openai_sdk_reads_chat_stream(sdk_upstream, name):
    sdk_upstream.queue(name)
    with openai_client(sdk_upstream) as client:
        chunks = list(client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}],
                                                     stream=True))
    datas = [data for _, data in sse_events(load_fixture(name).body)]
    assert len(chunks) == len(datas) - 1  # all but [DONE]
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "".join(json.loads(d)["choices"][0]["delta"].get("content") or ""
                              for d in datas[:-1] if json.loads(d)["choices"])
    assert sdk_upstream.requests[0].path == "/v1/chat/completions"


def test_openai_sdk_sees_the_chat_midstream_error(sdk_upstream):
    sdk_upstream.queue("openai/chat_stream_error_midstream")
    with openai_client(sdk_upstream) as client, pytest.raises(openai.APIError, match="server had an error"):
        for _ in client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}],
                                                stream=True):
            pass


@pytest.mark.parametrize("name", [n for n in FIXTURE_NAMES if n.startswith("openai/chat_blocking_")])
def test_openai_sdk_reads_chat_completion(sdk_upstream, name):
    sdk_upstream.queue(name)
    with openai_client(sdk_upstream) as client:
        completion = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    body = json.loads(load_fixture(name).body)
    assert completion.usage.prompt_tokens == body["usage"]["prompt_tokens"]
    assert completion.choices[0].message.content == body["choices"][0]["message"]["content"]


RESPONSES_STREAMS = [n for n in FIXTURE_NAMES if n.startswith("openai/responses_stream_")
                     and not n.endswith(("_failed", "_error"))]


@pytest.mark.parametrize("name", RESPONSES_STREAMS)
def test_openai_sdk_reads_responses_stream(sdk_upstream, name):
    sdk_upstream.queue(name)
    with openai_client(sdk_upstream) as client, client.responses.stream(model="gpt-4.1", input="hi") as stream:
        final = stream.get_final_response()
    completed = fixture_events(name)[-1][1]["response"]
    assert final.id == completed["id"]
    assert final.usage.model_dump(exclude_none=True) == completed["usage"]
    assert [item.type for item in final.output] == [item["type"] for item in completed["output"]]
    assert sdk_upstream.requests[0].path == "/v1/responses"


@pytest.mark.parametrize("name, last_type", [("openai/responses_stream_failed", "response.failed"),
                                             ("openai/responses_stream_error", "error")])
def test_openai_sdk_reads_failing_responses_stream(sdk_upstream, name, last_type):
    sdk_upstream.queue(name)
    with openai_client(sdk_upstream) as client:
        events = list(client.responses.create(model="gpt-4.1", input="hi", stream=True))
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[-1].type == last_type


@pytest.mark.parametrize("name", [n for n in FIXTURE_NAMES if n.startswith("openai/responses_blocking_")])
def test_openai_sdk_reads_response(sdk_upstream, name):
    sdk_upstream.queue(name)
    with openai_client(sdk_upstream) as client:
        response = client.responses.create(model="gpt-4.1", input="hi")
    body = json.loads(load_fixture(name).body)
    assert response.id == body["id"]
    assert response.output_text == "".join(part["text"] for item in body["output"] if item["type"] == "message"
                                           for part in item["content"])
