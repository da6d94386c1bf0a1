"""How to address each server under test: paths, headers and model names for every kind of request."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import agent_bodies, canned


@dataclass(frozen=True)
class Request:
    """One kind of request to one server."""

    port: int
    path: str
    headers: dict[str, str]
    body: bytes
    end_marker: str = ""  # the last event of a complete stream

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


@dataclass(frozen=True)
class Target:
    """A server under test (direct upstream, aibridge, LiteLLM) and its routes."""

    name: str
    port: int
    chat_path: str
    messages_path: str
    auth: dict[str, str]
    # How a request asks the fake upstream for the SSE answer instead of the JSON one.
    stream_headers: dict[str, str] = field(default_factory=dict)
    chat_model: str = canned.OPENAI_MODEL
    chat_stream_model: str = canned.OPENAI_MODEL
    messages_model: str = canned.ANTHROPIC_MODEL
    messages_stream_model: str = canned.ANTHROPIC_MODEL
    stream_chat_path: str = ""
    stream_messages_path: str = ""

    def chat(self) -> Request:
        return Request(self.port, self.chat_path, self._headers(), canned.chat_request(self.chat_model))

    def messages(self) -> Request:
        return Request(self.port, self.messages_path, self._headers(anthropic=True), canned.messages_request(self.messages_model))

    def blocking(self, api: str, size: int | None) -> Request:
        """A blocking ``api`` ("chat" or "messages") request: the tiny body, or an agent-shaped one of ``size`` bytes."""
        if size is None:
            return self.chat() if api == "chat" else self.messages()
        model = self.chat_model if api == "chat" else self.messages_model
        path = self.chat_path if api == "chat" else self.messages_path
        return Request(self.port, path, self._headers(anthropic=api == "messages"), agent_bodies.body(api, model, size))

    def chat_stream(self) -> Request:
        return Request(
            self.port,
            self.stream_chat_path or self.chat_path,
            {**self._headers(), **self.stream_headers, "Accept": "text/event-stream"},
            canned.chat_request(self.chat_stream_model, stream=True),
            end_marker="data: [DONE]",
        )

    def messages_stream(self) -> Request:
        return Request(
            self.port,
            self.stream_messages_path or self.messages_path,
            {**self._headers(anthropic=True), **self.stream_headers, "Accept": "text/event-stream"},
            canned.messages_request(self.messages_stream_model, stream=True),
            end_marker="event: message_stop",
        )

    def _headers(self, anthropic: bool = False) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "aibridge-bench/1", **self.auth}
        if anthropic:
            headers["anthropic-version"] = "2023-06-01"
        return headers
