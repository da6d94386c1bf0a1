"""One intercepted request: record its start, send it upstream, relay the answer, record the end."""

from __future__ import annotations

from flask import Response, request, stream_with_context

from .. import toolloop
from ..apis import API_CLASSES, Api, BadRequest
from ..errors import error_response
from ..records import Interception, utcnow
from ..upstream import forward_headers, is_event_stream, relayed_headers
from .answers import upstream_error_answer
from .blocking import PlainAnswer, relay_blocking
from .body import read_body
from .client_watch import watch_client
from .clients import detect_client, session_id
from .failures import HANDLED, failure_of
from .lifecycle import InterceptionLog, new_interception_id
from .stream import PlainStream, relay_stream


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
    except BadRequest as exc:
        return error_response(shape, exc.status, str(exc))

    api.model = provider.model_for(api.model)  # the recorded model is the one that answers
    record = InterceptionLog(gateway.pm, _interception(provider, api, actor), gateway.redact)
    record.start(api.prompt(), api.tool_results())
    record.client_watch = watch_client(request.environ)
    try:
        return _send_and_relay(gateway, provider, path, api, actor, byok, record)
    except BaseException as exc:
        # A started interception always ends, saying why, and the client gets an error its SDK reads.
        failure = failure_of(exc, record.id)
        record.end(failure.status, failure.error)
        if not isinstance(exc, HANDLED):
            raise
        return error_response(shape, failure.http_status, failure.message)


def _send_and_relay(gateway, provider, path: str, api: Api, actor, byok: bool, record: InterceptionLog) -> Response:
    """Send the request upstream and relay the answer; every outcome ends the interception."""
    headers = _upstream_headers(gateway, provider, actor, byok)
    query = request.query_string.decode("latin-1")
    timeout = gateway.config.upstream_timeout

    def send(body: bytes):
        return provider.send_intercepted(path, query, headers, body, timeout)

    loop = toolloop.start(gateway.pm, gateway.config.mcp_max_rounds, api, record, send)
    response = send(loop.body() if loop else api.upstream_body())
    if response.status >= 400:
        return upstream_error_answer(response, record)
    if api.streaming and is_event_stream(response):
        rounds = toolloop.LoopStream(loop) if loop else PlainStream(api, record)
        events = relay_stream(response, rounds, record)
        return Response(stream_with_context(events), status=response.status, headers=relayed_headers(response.headers))
    answers = toolloop.LoopAnswers(loop) if loop else PlainAnswer(api, record)
    return relay_blocking(response, answers, record)


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
