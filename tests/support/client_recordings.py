"""The real client requests under tests/fixtures/clients/, replayed byte for byte through a gateway.

Each recording is one HTTP request a real client binary sent (see that
directory's README.md). ``replay`` sends it to a gateway with the exact body
bytes and the headers in the client's order and case, the credential
placeholders replaced: the gateway token where the client put its key, and
for the Copilot API a GitHub token upstream plus the gateway token in
``X-Coder-AI-Governance-Token``.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from support.fakeupstream import FIXTURES_DIR, Response, load_fixture, parse_http_response
from requests.structures import CaseInsensitiveDict

CLIENTS_DIR = FIXTURES_DIR / "clients"
GITHUB_TOKEN = "ghu_0RecordedCopilotCliUserToken0000000"
# Where each client put the key it was configured with.
_KEY_PLACEHOLDERS = ("<ANTHROPIC_API_KEY>", "<ANTHROPIC_AUTH_TOKEN>", "<OPENAI_API_KEY>", "<COPILOT_PROVIDER_API_KEY>")
_GITHUB_PLACEHOLDER = "<GITHUB_TOKEN>"
# The upstream answer for a recording that names none, by the path it was sent to.
_DEFAULT_ANSWERS = {
    "/v1/messages": "clients/claude-code/response_stream_text.resp",
    "/v1/responses": "clients/codex/response_stream_text.resp",
    "/responses": "clients/codex/response_stream_text.resp",
    "/chat/completions": "openai/chat_stream_text_usage",
    "/v1/chat/completions": "openai/chat_stream_text_usage",
}


@dataclass
class Recording:
    """One recorded request: ``name`` is ``<client>/<file>`` under tests/fixtures/clients."""

    name: str
    data: dict

    @property
    def headers(self) -> CaseInsensitiveDict:
        return CaseInsensitiveDict(self.data["headers"])

    @property
    def body(self) -> bytes:
        """The exact bytes the client sent (compact JSON, raw UTF-8; see the README); empty without a body."""
        if self.data.get("body") is None:
            return b""
        return json.dumps(self.data["body"], separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def expect(self) -> dict:
        return self.data["expect"]

    @property
    def on_copilot_api(self) -> bool:
        """Sent to the Copilot API with the person's GitHub token (not BYOK)."""
        return _GITHUB_PLACEHOLDER in self.headers.get("authorization", "")

    @property
    def provider(self) -> str:
        """The gateway's provider instance this client would be pointed at."""
        if self.on_copilot_api:
            return "copilot"
        return "anthropic" if self.data["client"] == "claude-code" else "openai"

    def upstream_answer(self) -> Response:
        """The answer the capture server gave (its .resp transcript), or a recorded one of the same API."""
        name = self.data.get("response")
        if name:
            path = CLIENTS_DIR / self.name.split("/")[0] / name
            return _transcript(path)
        default = _DEFAULT_ANSWERS[self.data["path"].split("?")[0]]
        return _transcript(FIXTURES_DIR / default) if default.endswith(".resp") else load_fixture(default)


def all_recordings() -> list[Recording]:
    """Every recorded request, in name order."""
    return [Recording(f"{path.parent.name}/{path.name}", json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(CLIENTS_DIR.glob("*/*.json"))]


def posted_recordings() -> list[Recording]:
    """Every recording of a POST with a JSON body."""
    return [r for r in all_recordings() if r.data["method"] == "POST" and r.data.get("body") is not None]


def recording(name: str) -> Recording:
    [found] = [r for r in all_recordings() if r.name == name]
    return found


def replay(gateway_url: str, recorded: Recording, token: str, prefix: str = "/api/v2/aibridge") -> tuple[int, bytes]:
    """Send the recorded request to the gateway as the client did; returns (status, answer body)."""
    target = urlsplit(gateway_url)
    body = recorded.body
    assert len(body) == recorded.data["body_bytes"], "the replayed body must be the captured bytes"
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    try:
        path = f"{prefix}/{recorded.provider}{recorded.data['path']}"
        conn.putrequest(recorded.data["method"], path, skip_host=True, skip_accept_encoding=True)
        for name, value in recorded.data["headers"].items():
            if name.lower() == "host":
                value = target.netloc
            elif name.lower() == "content-length":
                value = str(len(body))
            conn.putheader(name, _with_credentials(value, token))
        if recorded.on_copilot_api:
            conn.putheader("X-Coder-AI-Governance-Token", token)
        conn.endheaders(body)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _with_credentials(value: str, token: str) -> str:
    for placeholder in _KEY_PLACEHOLDERS:
        value = value.replace(placeholder, token)
    return value.replace(_GITHUB_PLACEHOLDER, GITHUB_TOKEN)


def _transcript(path: Path) -> Response:
    status, reason, headers, body = parse_http_response(path.read_bytes(), source=str(path))
    return Response(status, headers, body, reason)
