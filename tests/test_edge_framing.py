"""Ambiguous request framing is refused with 400 and a closed connection (issue 12, item 6), over raw sockets."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from conftest import LoggedProcess
from support.edge_support import LISTENING, connect

SMUGGLED = b"GET /healthz?smuggled HTTP/1.1\r\nHost: test\r\n\r\n"


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """One real server for the module's requests (each test uses its own connection)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CODER_")}
    environ.update(CODER_AIBRIDGE_ENABLED="true", CODER_DATA_DIR=str(tmp_path_factory.mktemp("data")))
    script = Path(sys.executable).parent / "aibridge"
    server = LoggedProcess([str(script), "server", "--http-address", "127.0.0.1:0"], environ)
    yield int(server.wait_for_line(LISTENING).group(1))
    server.proc.kill()
    server.proc.wait()


def exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw`` at once and read until the server closes the connection."""
    with connect(port) as client:
        client.sendall(raw)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    return received


def statuses(received: bytes) -> list[str]:
    return re.findall(rb"HTTP/1\.1 (\d{3})", received)


@pytest.mark.parametrize("head", [
    pytest.param(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", id="length-and-chunked"),
    pytest.param(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", id="chunked-and-length"),
    pytest.param(b"Content-Length: 5\r\nContent-Length: 48\r\n", id="two-lengths"),
    pytest.param(b"Content-Length: 5, 48\r\n", id="length-list"),
    pytest.param(b"Content-Length : 5\r\n", id="blank-before-colon"),
    pytest.param(b"Transfer-Encoding: gzip, chunked\r\n", id="chunked-not-alone"),
    pytest.param(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", id="two-encodings"),
    pytest.param(b"X-Note: one\r\n two\r\nContent-Length: 5\r\n", id="obs-fold"),
    pytest.param(b"X-Note: a\x00b\r\nContent-Length: 5\r\n", id="nul"),
    pytest.param(b"X-Note: a\rb\r\nContent-Length: 5\r\n", id="bare-cr"),
    pytest.param(b"X-Note\r\nContent-Length: 5\r\n", id="no-colon"),
])
def test_ambiguous_framing_is_refused_and_the_pipelined_request_never_served(port, head):
    raw = b"POST /healthz HTTP/1.1\r\nHost: test\r\n" + head + b"\r\n0\r\n\r\n" + SMUGGLED
    received = exchange(port, raw)
    assert statuses(received) == [b"400"], received  # one answer, then the connection was closed
    assert b"Connection: close" in received and b"bad request: " in received


def test_transfer_encoding_in_http_1_0_is_refused(port):
    received = exchange(port, b"POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED)
    assert statuses(received) == [b"400"], received


def test_nul_in_the_request_line_is_refused(port):
    assert statuses(exchange(port, b"GET /healthz\x00x HTTP/1.1\r\nHost: test\r\n\r\n")) == [b"400"]


def test_well_framed_pipelined_requests_are_all_served(port):
    chunked = b"POST /healthz HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    received = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n" + chunked + last)
    assert statuses(received) == [b"200", b"405", b"200"], received


HEAD_LINES = [b"Host: gateway\r\n", b"X-Twice: one\r\n", b"x-twice:\t two \r\n", b"Content-Type: application/json\r\n",
              b"Content-Length: 17\r\n", b"session_id: 019a9c0e\r\n", b"X-Latin: caf\xe9\n", b"X-Empty:\r\n"]


def test_the_checked_head_reads_as_pywsgis_email_parser_read_it():
    """RequestHead replaces http.client.parse_headers for a head framing has checked: same answers to pywsgi."""
    from io import BytesIO

    from gevent.pywsgi import headers_factory

    from aibridge.server.request_head import RequestHead

    ours, theirs = RequestHead(HEAD_LINES), headers_factory(BytesIO(b"".join(HEAD_LINES) + b"\r\n"))
    # The one difference: a value's trailing spaces and tabs (optional whitespace, RFC 9110 §5.5) are not kept.
    for name in ("host", "X-TWICE", "content-type", "Content-Length", "session_id", "x-latin", "x-empty", "missing"):
        assert ours.get(name, "-") == theirs.get(name, "-").rstrip(" \t"), name
    assert HEAD_LINES[2].endswith(b"two \r\n") and ours.fields()[2] == ("x-twice", "two")
    assert ours.typeheader == theirs.typeheader and ours.getheader("content-length") == "17"
    assert [line.rstrip("\r\n \t") for line in ours.headers] == [line.rstrip("\r\n \t") for line in theirs.headers]
    assert ours.status == theirs.status == ""
    del ours["content-length"], theirs["content-length"]
    assert ours.get("Content-Length") is None is theirs.get("Content-Length")
    assert ("session_id", "019a9c0e") in ours.fields()
