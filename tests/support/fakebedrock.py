"""A fake Amazon Bedrock runtime on 127.0.0.1 that checks SigV4 signatures and answers in AWS's formats.

``FakeBedrock`` is a :class:`fakeupstream.FakeUpstream` that, before giving a
queued answer, checks each request the way Bedrock does: the ``Authorization``
header must be a SigV4 signature (service ``bedrock``, the fake's region) of
exactly the received method, path, signed headers and body with one of the
fake's key pairs; the path must be ``/model/<id>/invoke`` or
``/invoke-with-response-stream``; the body must be Bedrock's Anthropic body.
A request that fails gets Bedrock's error instead (403 or 400).

Answers are built from the Anthropic fixtures: ``stream_answer`` turns an SSE
fixture into an AWS binary event stream of ``chunk`` events (this module has
the encoder; botocore only decodes), ``invoke_answer`` gives a blocking one.
Bedrock's own error answers are fixtures under ``tests/fixtures/bedrock/``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hmac
import json
import re
import struct
import zlib
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from support.fakeupstream import EVENTSTREAM_TYPE, FakeUpstream, ReceivedRequest, Response, load_fixture, split_sse_events

REGION = "us-west-2"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ANTHROPIC_VERSION = "bedrock-2023-05-31"

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)
_PATH = re.compile(r"^/model/(?P<model>[^/?]+)/(?P<action>invoke|invoke-with-response-stream)$")
_REFUSED_FIELDS = ("model", "stream", "metadata", "service_tier", "container")
_MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
_REFORMAT = "please reformat your input and try again."
_CODES = {400: "ValidationException", 403: "InvalidSignatureException", 404: "UnknownOperationException"}


class FakeBedrock(FakeUpstream):
    """A FakeUpstream that refuses, as Bedrock does, requests that are badly signed or not Bedrock's shape."""

    def __init__(self, credentials: dict[str, str] | None = None, region: str = REGION):
        super().__init__()
        self.credentials = dict(credentials or {ACCESS_KEY: SECRET_KEY})  # access key id -> secret
        self.region = region
        self.refusals: list[str] = []

    def _take(self, request: ReceivedRequest):
        planned = super()._take(request)
        refusal = self.check(request)
        if refusal is None:
            return planned
        status, message = refusal
        self.refusals.append(message)
        return dataclasses.replace(planned, response=error_answer(status, _CODES[status], message))

    def check(self, request: ReceivedRequest) -> tuple[int, str] | None:
        """(status, message) of the error Bedrock would answer, or None when the request is good."""
        problem = signature_problem(request, self.credentials, self.region)
        if problem:
            return 403, problem
        if not _PATH.match(request.path):
            return 404, f"no Bedrock runtime operation for {request.method} {request.path}"
        return body_problem(request)

    def invocations(self) -> list[tuple[str, str, dict]]:
        """(model id, action, body) of every request received so far."""
        return [invocation(request) for request in self.requests]


def invocation(request: ReceivedRequest) -> tuple[str, str, dict]:
    """The decoded model id, the action and the JSON body of a Bedrock invoke request."""
    match = _PATH.match(request.path)
    assert match, f"not a Bedrock invoke path: {request.path}"
    return unquote(match.group("model")), match.group("action"), request.json()


def signature_problem(request: ReceivedRequest, credentials: dict[str, str], region: str) -> str | None:
    """Why the request's SigV4 ``Authorization`` does not sign it, or None when it does."""
    match = _AUTHORIZATION.match(request.headers.get("Authorization", ""))
    if not match:
        return f"Authorization header is not a SigV4 signature: {request.headers.get('Authorization')!r}"
    amz_date = request.headers.get("X-Amz-Date", "")
    if match["key"] not in credentials:
        return f"The security token included in the request is invalid (unknown access key {match['key']})"
    if (match["region"], match["service"]) != (region, "bedrock"):
        return f"credential scope is {match['region']}/{match['service']}, expected {region}/bedrock"
    if match["date"] != amz_date[:8]:
        return f"credential date {match['date']} does not match X-Amz-Date {amz_date!r}"
    try:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return f"X-Amz-Date {amz_date!r} is not a SigV4 timestamp"
    if abs(dt.datetime.now(dt.timezone.utc) - signed_at) > _MAX_CLOCK_SKEW:
        return "Signature expired"
    signed = match["signed"].split(";")
    missing = [name for name in ("host", "x-amz-date", "content-type") if name not in signed]
    if missing:
        return f"SignedHeaders lacks {', '.join(missing)}"
    expected = expected_signature(request, signed, match["key"], credentials[match["key"]], region)
    if not hmac.compare_digest(expected, match["signature"]):
        return "The request signature we calculated does not match the signature you provided."
    return None


def expected_signature(request: ReceivedRequest, signed: list[str], key: str, secret: str, region: str) -> str:
    """The SigV4 signature of what was received, computed by botocore from the signed headers only."""
    headers = {name: request.headers.get(name, "") for name in signed}
    aws_request = AWSRequest(method=request.method, url=f"http://{headers['host']}{request.path}",
                             headers=headers, data=request.body)
    aws_request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(key, secret), "bedrock", region)
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)


def body_problem(request: ReceivedRequest) -> tuple[int, str] | None:
    """The ValidationException Bedrock gives an Anthropic body it cannot take, or None."""
    if not request.headers.get("Content-Type", "").startswith("application/json"):
        return 400, f"Content-Type must be application/json, got {request.headers.get('Content-Type')!r}"
    try:
        body = request.json()
    except ValueError:
        return 400, f"Malformed input request, {_REFORMAT}"
    for key in _REFUSED_FIELDS:
        if key in body:
            return 400, f"Malformed input request: #: extraneous key [{key}] is not permitted, {_REFORMAT}"
    if body.get("anthropic_version") != ANTHROPIC_VERSION:
        return 400, f"Malformed input request: #: required key [anthropic_version] not found, {_REFORMAT}"
    return None


# -- answers -------------------------------------------------------------


def eventstream_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (lengths + CRC32), string headers, payload, message CRC32."""
    encoded_headers = b"".join(
        struct.pack(">B", len(name.encode())) + name.encode() + struct.pack(">BH", 7, len(value.encode())) + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded_headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def chunk_message(event_json: bytes) -> bytes:
    """A ``chunk`` event carrying one Anthropic stream event, base64 encoded, with Bedrock's padding field."""
    padding = "abcdefghijklmnopqrstuvwxyzABCDEF"[: len(event_json) % 32]  # Bedrock pads to hide lengths
    payload = json.dumps({"bytes": base64.b64encode(event_json).decode(), "p": padding})
    headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    return eventstream_message(headers, payload.encode())


def exception_message(name: str, message: str) -> bytes:
    """An exception message as Bedrock puts it in a stream (``:exception-type`` starts lower case)."""
    headers = {":exception-type": name, ":content-type": "application/json", ":message-type": "exception"}
    return eventstream_message(headers, json.dumps({"message": message}).encode())


def sse_event_data(anthropic_fixture: str) -> list[bytes]:
    """The exact ``data:`` bytes of every event of an Anthropic SSE fixture."""
    events = split_sse_events(load_fixture(anthropic_fixture).body_bytes())
    return [line[6:] for event in events for line in event.split(b"\n") if line.startswith(b"data: ")]


def with_invocation_metrics(event_json: bytes) -> bytes:
    """Bedrock adds its own metrics to ``message_stop``; other events pass unchanged."""
    event = json.loads(event_json)
    if event.get("type") != "message_stop":
        return event_json
    event["amazon-bedrock-invocationMetrics"] = {
        "inputTokenCount": 12, "outputTokenCount": 21, "invocationLatency": 812, "firstByteLatency": 301,
    }
    return json.dumps(event, separators=(",", ":")).encode()


def stream_answer(anthropic_fixture: str, *, events: int | None = None, exception: tuple[str, str] | None = None,
                  trailing: bytes = b"") -> Response:
    """An invoke-with-response-stream answer replaying an Anthropic SSE fixture as chunk events.

    ``events`` keeps only the first N events; ``exception`` (name, message)
    ends the stream with an exception message; ``trailing`` is appended raw.
    """
    data = sse_event_data(anthropic_fixture)[:events]
    messages = [chunk_message(with_invocation_metrics(event)) for event in data]
    if exception:
        messages.append(exception_message(*exception))
    if trailing:
        messages.append(trailing)
    headers = {
        "Content-Type": EVENTSTREAM_TYPE,
        "x-amzn-RequestId": "4b1c6f0e-9d2a-4e7b-8f3c-2a1d0e9b7c65",
        "X-Amzn-Bedrock-Content-Type": "application/json",
    }
    return Response(200, headers, messages)


def invoke_answer(anthropic_fixture: str) -> Response:
    """An invoke answer: Bedrock's body is the Anthropic message of a blocking fixture, with AWS's headers."""
    body = load_fixture(anthropic_fixture).body_bytes()
    usage = json.loads(body)["usage"]
    headers = {
        "Content-Type": "application/json",
        "x-amzn-RequestId": "9f2e7c1a-3b4d-4c5e-8a6f-7d8e9f0a1b2c",
        "X-Amzn-Bedrock-Invocation-Latency": "812",
        "X-Amzn-Bedrock-Input-Token-Count": str(usage["input_tokens"]),
        "X-Amzn-Bedrock-Output-Token-Count": str(usage["output_tokens"]),
    }
    return Response(200, headers, body)


def error_answer(status: int, code: str, message: str) -> Response:
    """A Bedrock error answer: the exception in ``x-amzn-ErrorType``, ``{"message": ...}`` as the body."""
    headers = {
        "Content-Type": "application/json",
        "x-amzn-RequestId": "0c7d3e5f-1a2b-4c3d-9e8f-6a5b4c3d2e1f",
        "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
    }
    return Response(status, headers, json.dumps({"message": message}))
