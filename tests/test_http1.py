"""The relay's HTTP/1.1 client against a scripted server speaking raw bytes."""

from __future__ import annotations

import threading

import pytest
from support.scripted_server import ScriptedServer

from aibridge.upstream.http1 import BrokenBody, Client, ConnectFailed


def request(client, server, method="POST", body=b"{}"):
    return client.request(method, server.url + "/v1/messages?beta=true", {"Content-Type": "application/json"}, body, 5, 5)


def test_chunked_body_with_extensions_and_trailers():
    def script(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Request-Id: r1\r\n\r\n"
                     b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        conn.recv(1)  # keep the connection open until the client closes it

    server = ScriptedServer(script)
    client = Client()
    response = request(client, server)
    assert (response.status, response.headers["x-request-id"]) == (200, "r1")
    assert response.read() == b"hello world"
    response.close()
    assert client.idle_connections(server.url) == 1
    head = server.received[0]
    assert head.startswith(b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Content-Length: 2\r\n\r\n{}" in head
    client.clear()
    server.close()


def test_read1_returns_each_chunk_as_it_arrives():
    release = threading.Event()

    def script(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"b\r\ndata: one\n\n\r\n")
        release.wait(5)
        conn.sendall(b"b\r\ndata: two\n\n\r\n0\r\n\r\n")

    server = ScriptedServer(script)
    response = request(Client(), server)
    assert response.read1() == b"data: one\n\n"  # without waiting for the rest
    release.set()
    assert response.read1() == b"data: two\n\n"
    assert response.read1() == b""
    server.close()


def test_body_delimited_by_the_end_of_the_connection_is_not_reused():
    def script(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"ok\": true}")

    server = ScriptedServer(script)
    client = Client()
    response = request(client, server)
    assert response.read() == b'{"ok": true}'
    response.close()
    assert client.idle_connections(server.url) == 0
    server.close()


def test_interim_answers_are_skipped():
    def script(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")

    server = ScriptedServer(script)
    response = request(Client(), server)
    assert (response.status, response.read()) == (201, b"ok")
    server.close()


def answer_first(conn, server):
    server.read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")


def answer_second(conn, server):
    server.read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")


def first_then_second(client, server, between=lambda: None) -> None:
    """Two requests, each answered; ``between`` runs while the first one's connection waits in the pool."""
    first = request(client, server)
    assert first.read() == b"first"
    first.close()
    between()
    second = request(client, server)
    assert second.read() == b"second"


def test_a_kept_alive_connection_the_server_closed_is_replaced():
    closed = threading.Event()

    def answer_then_close(conn, server):
        answer_first(conn, server)
        # The server drops the idle connection, as providers do after their keep-alive timeout.
        conn.close()
        closed.set()

    server = ScriptedServer(answer_then_close, answer_second)
    # The pool sees the drop before reuse (a drop after that is a 502, never a resend).
    first_then_second(Client(), server, between=lambda: closed.wait(5))
    assert server.accepted == 2 and len(server.received) == 2
    server.close()


def test_a_body_cut_short_is_an_error():
    def script(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")

    server = ScriptedServer(script)
    response = request(Client(), server)
    with pytest.raises(BrokenBody):
        response.read()
    server.close()


def test_no_answer_on_a_new_connection_is_an_error():
    def script(conn, server):
        server.read_request(conn)  # and close without a word

    server = ScriptedServer(script)
    with pytest.raises(BrokenBody):
        request(Client(), server)
    server.close()


def test_a_blocking_answer_gives_its_connection_back(gateway, token, upstream, collector):
    """Blocking answers reuse the upstream connection (no new connection per request)."""
    import requests

    client = gateway.app.extensions["aibridge"].upstream.direct.client
    for _ in range(3):
        upstream.queue("anthropic/blocking_text")
        response = requests.post(
            gateway.bridge_url("anthropic") + "/v1/messages", headers={"x-api-key": token},
            json={"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
            timeout=10,
        )
        assert response.status_code == 200
        assert client.idle_connections(upstream.url) == 1


def test_https_verifies_the_certificate_and_reuses_the_connection(tmp_path, monkeypatch):
    import ssl
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)

    def answer_twice(conn, server):
        with server_tls.wrap_socket(conn, server_side=True) as tls:
            for body in (b"first", b"second"):
                server.read_request(tls)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            tls.recv(1)

    def refuse(conn, server):
        with pytest.raises(ssl.SSLError):  # the client rejects our certificate during the handshake
            server_tls.wrap_socket(conn, server_side=True)

    server = ScriptedServer(refuse, answer_twice)
    url = server.url.replace("http://127.0.0.1", "https://localhost")

    untrusting = Client()  # the system's CAs do not know our certificate
    with pytest.raises(ConnectFailed) as refused:  # no request went out: safe to say so
        untrusting.request("POST", url + "/v1/messages", {}, b"{}", 5, 5)
    assert isinstance(refused.value.__cause__, ssl.SSLCertVerificationError)

    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    client = Client()
    for expected in (b"first", b"second"):
        response = client.request("POST", url + "/v1/messages", {}, b"{}", 5, 5)
        assert response.read() == expected
        response.close()
    assert server.accepted == 2  # one refused, then one connection for both requests
    server.close()


# Never resend a request the provider may have received (issue 12, item 4).


def answer_then_wait(conn, server):
    """Answer one request on a kept-alive connection, then read the next one and close without a word."""
    answer_first(conn, server)
    server.read_request(conn)


class FirstSendFails:
    """A socket whose next ``send`` fails as if the server had reset the connection before it."""

    def __init__(self, sock):
        self._sock = sock

    def send(self, data):
        raise BrokenPipeError(32, "Broken pipe")

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_a_request_read_on_a_reused_connection_is_not_sent_again():
    from aibridge.upstream import Request, UpstreamError
    from aibridge.upstream.direct import DirectTransport

    server = ScriptedServer(answer_then_wait)
    transport = DirectTransport()
    first = transport.send(Request("POST", server.url + "/v1/messages", {}, b"{}", 5))
    assert first.read() == b"first"
    first.close()
    with pytest.raises(UpstreamError) as failed:
        transport.send(Request("POST", server.url + "/v1/messages", {}, b"{}", 5))
    assert failed.value.request_sent and failed.value.status == 502
    assert len(server.received) == 2 and server.accepted == 1  # the second request arrived exactly once
    server.close()


def test_a_reused_connection_that_fails_before_the_first_byte_is_replaced():
    def answer_then_keep(conn, server):
        answer_first(conn, server)
        conn.recv(1)  # until the client drops the connection

    def break_the_idle_connection():
        # Dropped after the pool's check: not one byte of the next request leaves.
        idle = client._pools[("http", "127.0.0.1", server.sock.getsockname()[1])]._idle[0]
        idle.sock = FirstSendFails(idle.sock)

    server = ScriptedServer(answer_then_keep, answer_second)
    client = Client()
    first_then_second(client, server, between=break_the_idle_connection)
    assert server.accepted == 2 and len(server.received) == 2  # each request arrived once
    server.close()


def test_a_new_connection_that_fails_before_the_first_byte_never_sent_the_request(monkeypatch):
    from aibridge.upstream import Request, UpstreamError
    from aibridge.upstream import http1
    from aibridge.upstream.direct import DirectTransport

    def accept_only(conn, server):
        conn.recv(1)

    server = ScriptedServer(accept_only)
    new_connection = http1.Connection.__init__

    def failing_connection(self, *args):
        new_connection(self, *args)
        self.sock = FirstSendFails(self.sock)

    monkeypatch.setattr(http1.Connection, "__init__", failing_connection)
    with pytest.raises(UpstreamError) as failed:
        DirectTransport().send(Request("POST", server.url + "/v1/messages", {}, b"{}", 5))
    assert failed.value.request_sent is False  # safe for a later retry to send it again
    assert server.received == []
    server.close()
