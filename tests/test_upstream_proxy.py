"""Providers behind HTTP_PROXY: the proxied transport (urllib3) relays through a real forward proxy."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import anthropic
import pytest
from support.fakeupstream import FakeUpstream
from support.gateway import Gateway, RecordCollector, gateway_config

CLAUDE = "claude-sonnet-4-6"


class ForwardProxy(BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy: absolute-URI requests are sent on to their origin, answers streamed back."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def _forward(self):
        target = urlsplit(self.path)
        ForwardProxy.seen.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        path = target.path + (f"?{target.query}" if target.query else "")
        upstream.request(self.command, path, body=body, headers=headers)
        answer = upstream.getresponse()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while chunk := answer.read1(65536):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        upstream.close()

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


def sdk_client(gateway) -> anthropic.Anthropic:
    """A client that talks to the gateway directly: only the gateway's upstream traffic uses the proxy."""
    return anthropic.Anthropic(base_url=gateway.bridge_url("anthropic"), api_key=gateway.create_token(),
                               max_retries=0, http_client=anthropic.DefaultHttpxClient(trust_env=False))


@pytest.fixture
def proxy():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ForwardProxy)
    ForwardProxy.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_requests_go_through_the_environments_proxy(tmp_path, monkeypatch, proxy):
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with FakeUpstream() as upstream:
        gateway = Gateway(gateway_config(tmp_path, upstream.url))
        collector = RecordCollector()
        gateway.pm.register(collector, name="test-collector")
        try:
            upstream.queue("anthropic/stream_text")
            client = sdk_client(gateway)
            with client.messages.stream(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as stream:
                text = stream.get_final_text()
            assert text
            [end] = collector.wait_for_ends(1)
            assert end.status == "completed"
            assert ForwardProxy.seen == [f"POST {upstream.url}/v1/messages"]
        finally:
            gateway.close()


def test_an_unreachable_proxy_is_a_502_naming_the_provider_host(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    gateway = Gateway(gateway_config(tmp_path, "http://provider.invalid:8080"))
    try:
        client = sdk_client(gateway)
        with pytest.raises(anthropic.APIStatusError) as raised:
            client.messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "hi"}])
        assert raised.value.status_code == 502
        assert "provider.invalid:8080" in raised.value.body["error"]["message"]
    finally:
        gateway.close()
