"""The generic interception: authenticate, record the start, send upstream, relay, record the end."""

from __future__ import annotations

import logging

import urllib3.exceptions
from flask import Response, request, stream_with_context

from ..errors import error_response
from ..records import Interception, utcnow
from . import inner_loop, upstream
from .api import Api, BadRequest
from .bedrock import bedrock_transport
from .clients import detect_client, session_id
from .lifecycle import InterceptionLog, new_interception_id
from .sse import SSESplitter
from .upstream_error import relay_error

log = logging.getLogger("aibridge.intercept")


def read_body(limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (never read past it)."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    stream = request.stream
    parts, size = [], 0
    while size <= limit:
        part = stream.read(min(65536, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return None if size > limit else b"".join(parts)


def intercept(bridge, provider, path: str, api_class: type[Api], actor, byok: bool) -> Response:
    """Handle one intercepted request end to end."""
    shape = api_class.error_shape
    raw = read_body(bridge.config.max_request_body)
    if raw is None:
        return error_response(shape, 413, f"request body is larger than the limit of {bridge.config.max_request_body} bytes")
    try:
        api = api_class(raw)
        api.check_supported()
    except BadRequest as exc:
        return error_response(shape, exc.status, str(exc))

    transport = bedrock_transport(provider)  # None: straight to the provider's base URL
    if transport is not None:
        api.model = transport.model_for(api.model)  # the recorded model is the one that answers
    record = InterceptionLog(bridge.pm, _interception(provider, api, actor))
    record.start(api.prompt())
    try:
        return _send_and_relay(bridge, provider, path, api, actor, byok, transport, record)
    except Exception:
        # A started interception always ends, and the client gets an error its SDK reads.
        log.exception("interception %s failed", record.id)
        record.end("failed")
        return error_response(shape, 500, "the gateway could not handle this request (see the gateway's log)")
    except BaseException:
        record.end("failed")
        raise


def _send_and_relay(bridge, provider, path: str, api: Api, actor, byok: bool, transport, record: InterceptionLog) -> Response:
    """Send the request upstream and relay the answer; every outcome ends the interception."""
    shape = api.error_shape
    headers = _upstream_headers(bridge, provider, actor, byok)
    url = provider.upstream_url(path, request.query_string.decode("latin-1"))

    def send(body: bytes):
        if transport is not None:
            return transport.send(bridge.http, body, headers, bridge.config.upstream_timeout)
        return upstream.send(
            bridge.http, "POST", url, headers=headers, body=body, stream=True, timeout=bridge.config.upstream_timeout,
        )

    tools = inner_loop.injected_tools(bridge.pm, api, record.interception)
    if tools:
        return inner_loop.run(bridge, api, record, tools, send, shape)
    try:
        response = send(api.upstream_body())
    except upstream.UpstreamTimeout as exc:
        record.end("failed")
        return error_response(shape, 504, str(exc))
    except upstream.UpstreamUnreachable as exc:
        record.end("failed")
        return error_response(shape, 502, str(exc))

    if response.status_code >= 400:
        return relay_error(response, record)
    relayed = upstream.relayed_headers(response.headers)
    if api.streaming and response.headers.get("Content-Type", "").startswith("text/event-stream"):
        events = relay_stream(response, api, record)
        return Response(stream_with_context(events), status=response.status_code, headers=relayed)
    return _relay_blocking(response, relayed, api, record, shape)


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


def _upstream_headers(bridge, provider, actor, byok: bool) -> dict[str, str]:
    headers = upstream.forward_headers(request.headers, keep_client_credentials=byok)
    if not byok:
        headers.update(provider.auth_headers())
    if bridge.config.send_actor_headers:
        headers["X-AI-Bridge-Actor-ID"] = _header_value(actor.id)
        headers["X-AI-Bridge-Actor-Metadata-Username"] = _header_value(actor.username)
    return headers


def _header_value(text: str) -> str:
    """``text`` as its UTF-8 bytes on the wire (http.client sends header strings as latin-1)."""
    return text.encode().decode("latin-1")


def _relay_blocking(response, relayed, api: Api, record: InterceptionLog, shape: str) -> Response:
    try:
        content = response.content
    except Exception as exc:
        response.close()
        record.end("failed")
        status = 504 if isinstance(exc, upstream.UpstreamTimeout) else 502
        return error_response(shape, status, str(exc) or f"the upstream answer broke off: {type(exc).__name__}")
    try:
        api.record_blocking(record, content)
    except Exception:
        log.exception("could not read the records of interception %s", record.id)
    record.end("completed")
    return Response(content, status=response.status_code, headers=relayed)


def relay_stream(response, api: Api, record: InterceptionLog):
    """Yield each upstream SSE event to the client as it arrives, observing a copy."""
    observer = api.stream_observer(record)
    status = "client_disconnected"
    try:
        splitter = SSESplitter()
        for chunk in upstream.read_chunks(response):
            for event in splitter.feed(chunk):
                out = _observe(observer, event, record)
                if out:
                    yield out
        tail = splitter.flush()
        if tail is not None:
            out = _observe(observer, tail, record)
            if out:
                yield out
        closing = observer.closing_bytes()
        if closing:
            yield closing
        status = "failed" if observer.failed else "completed"
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        status = "failed"
        yield api.stream_error_event(504, "the upstream stopped sending before the answer was complete")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        status = "failed"
        yield api.stream_error_event(502, f"the upstream connection broke: {type(exc).__name__}")
    finally:
        if observer.failed:
            status = "failed"  # upstream's own error, even if the client left right after it
        response.close()
        try:
            observer.finish()
        except Exception:
            log.exception("could not finish the records of interception %s", record.id)
        record.end(status)


def _observe(observer, event, record):
    try:
        return observer.event(event)
    except Exception:
        # Recording never breaks the relay: the client still gets the event.
        log.exception("could not read an event of interception %s", record.id)
        return event.raw
