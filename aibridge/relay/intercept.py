"""One intercepted request: record its start, send it upstream, relay the answer, record the end."""

from __future__ import annotations

import logging

from flask import Response, request, stream_with_context

from .. import toolloop
from ..apis import API_CLASSES, Api, BadRequest
from ..errors import error_response
from ..records import Interception, utcnow
from ..upstream import UpstreamError, forward_headers, is_event_stream, relayed_headers
from .answers import failure_answer, upstream_error_answer
from .blocking import PlainAnswer, relay_blocking
from .body import read_body
from .clients import detect_client, session_id
from .lifecycle import InterceptionLog, new_interception_id
from .stream import PlainStream, relay_stream

log = logging.getLogger("aibridge.relay")


def intercept(gateway, provider, path: str, api_name: str, actor, byok: bool) -> Response:
    """Handle one intercepted request end to end."""
    api_class = API_CLASSES[api_name]
    shape = api_class.error_shape
    limit = gateway.config.max_request_body
    raw = read_body(limit)
    if raw is None:
        return error_response(shape, 413, f"request body is larger than the limit of {limit} bytes")
    try:
        api = api_class(raw)
        api.check_supported()
        api.model = provider.model_for(api.model)  # the recorded model is the one that answers
        # Parts of the body are decoded only now (apis/request_body.py): they may still be refused.
        interception = _interception(provider, api, actor)
        prompt, tool_results = api.prompt(), api.tool_results()
    except BadRequest as exc:
        return error_response(shape, exc.status, str(exc))

    record = InterceptionLog(gateway.pm, interception)
    record.start(prompt, tool_results)
    try:
        return _send_and_relay(gateway, provider, path, api, actor, byok, record)
    except Exception:
        # A started interception always ends, and the client gets an error its SDK reads.
        log.exception("interception %s failed", record.id)
        record.end("failed")
        return error_response(shape, 500, "the gateway could not handle this request (see the gateway's log)")
    except BaseException:
        record.end("failed")
        raise


def _send_and_relay(gateway, provider, path: str, api: Api, actor, byok: bool, record: InterceptionLog) -> Response:
    """Send the request upstream and relay the answer; every outcome ends the interception."""
    headers = _upstream_headers(gateway, provider, actor, byok)
    query = request.query_string.decode("latin-1")
    timeout = gateway.config.upstream_timeout

    def send(body: bytes):
        return provider.send_intercepted(path, query, headers, body, timeout)

    loop = toolloop.start(gateway.pm, gateway.config.mcp_max_rounds, api, record, send)
    try:
        response = send(loop.body() if loop else api.upstream_body())
    except UpstreamError as error:
        return failure_answer(api.error_shape, error, record)
    if response.status >= 400:
        return upstream_error_answer(response, record)
    if api.streaming and is_event_stream(response):
        rounds = toolloop.LoopStream(loop) if loop else PlainStream(api, record)
        events = relay_stream(response, rounds, record)
        return Response(stream_with_context(events), status=response.status, headers=relayed_headers(response.headers))
    answers = toolloop.LoopAnswers(loop) if loop else PlainAnswer(api, record)
    return relay_blocking(response, answers, record, api.error_shape)


def _interception(provider, api: Api, actor) -> Interception:
    client = detect_client(request.headers)
    return Interception(
        interception_id=new_interception_id(),
        initiator_id=actor.id,
        initiator_username=actor.username,
        provider=provider.type,
        provider_name=provider.name,
        model=api.model,
        client=client,
        client_session_id=session_id(client, request.headers, api.body),
        user_agent=request.headers.get("User-Agent", ""),
        started_at=utcnow(),
        api=api.name,
        streaming=api.streaming,
    )


def _upstream_headers(gateway, provider, actor, byok: bool) -> dict[str, str]:
    headers = forward_headers(request.headers, keep_client_credentials=byok)
    if not byok:
        headers.update(provider.auth_headers())
    if gateway.config.send_actor_headers:
        headers["X-AI-Bridge-Actor-ID"] = _header_value(actor.id)
        headers["X-AI-Bridge-Actor-Metadata-Username"] = _header_value(actor.username)
    return headers


def _header_value(text: str) -> str:
    """``text`` as its UTF-8 bytes on the wire (header strings go out as latin-1)."""
    return text.encode().decode("latin-1")
