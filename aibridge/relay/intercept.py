"""One intercepted request: record its start, send it upstream, relay the answer, record the end."""

from __future__ import annotations

from flask import Response, request, stream_with_context

from .. import toolloop
from ..apis import API_CLASSES, Api, BadRequest
from ..dumps import client_secrets
from ..people.auth import GOVERNANCE_HEADER
from ..errors import error_response
from ..records import Interception, utcnow
from ..resilience.attempts import Outgoing, UpstreamAttempts
from ..resilience.refusals import from_plugin
from ..upstream import forward_headers, is_event_stream, relayed_headers
from .answers import refusal_answer, upstream_error_answer
from .blocking import PlainAnswer, relay_blocking
from .body import read_body
from .client_watch import watch_client
from .clients import detect_client, session_id
from .failures import HANDLED, failure_of
from .lifecycle import InterceptionLog, new_interception_id
from .stream import PlainStream, relay_stream


def intercept(gateway, provider, path: str, api_name: str, actor, byok: bool, refused=None) -> Response:
    """Handle one intercepted request end to end; ``refused`` (a plugin's Refusal with a kind) records it failed."""
    api_class = API_CLASSES[api_name]
    shape = api_class.error_shape
    limit = gateway.config.max_request_body
    raw = read_body(limit)
    if raw is None:
        return error_response(shape, 413, f"request body is larger than the limit of {limit} bytes")
    try:
        api = api_class(raw)
        del raw  # from here the api alone holds the body, so that it can let go of it (release_body)
        api.check_supported()
        requested_model = api.model
        api.model = provider.model_for(api.model)  # the recorded model is the one that answers
        # Parts of the body are decoded only now (apis/request_body.py): they may still be refused.
        client = detect_client(request.headers)
        client_session = session_id(client, request.headers, api.body)
        prompt, tool_results = api.prompt(), api.tool_results()
    except BadRequest as exc:
        return error_response(shape, exc.status, str(exc))

    if refused is not None:
        refusal, release = from_plugin(refused), None  # takes no place among the requests in flight
    else:
        refusal, release = gateway.limits.admit(gateway.clock.monotonic())
    # Every round (the tool loop's too) is sent through it: retries, key failover, breakers, fallback.
    send = UpstreamAttempts(gateway, provider, _outgoing(gateway, path, api, requested_model, actor, byok),
                            byok, _client_key(request.headers) if byok else "")
    interception = _interception(provider, api, actor, send, client, client_session)
    record = InterceptionLog(gateway.pm, interception, gateway.redact, on_end=release, cost_of=gateway.prices.cost_of)
    send.record = record
    if gateway.dumps is not None:
        secrets = [*gateway.redact.secrets, *client_secrets(request.headers)]
        send.dump = gateway.dumps.exchange(provider.name, record.id, secrets)
    record.start(prompt, tool_results)
    if refusal is not None:
        return refusal_answer(shape, refusal, record)
    record.client_watch = watch_client(request.environ)
    try:
        return _send_and_relay(gateway, api, record, send)
    except BaseException as exc:
        # A started interception always ends, saying why, and the client gets an error its SDK reads.
        failure = failure_of(exc, record.id)
        record.end(failure.status, failure.error)
        if not isinstance(exc, HANDLED):
            raise
        return error_response(shape, failure.http_status, failure.message)


def _send_and_relay(gateway, api: Api, record: InterceptionLog, send: UpstreamAttempts) -> Response:
    """Send the request upstream and relay the answer; every outcome ends the interception."""
    loop = toolloop.start(gateway.pm, gateway.config.mcp_max_rounds, api, record, send)
    response = send(loop.body() if loop else api.upstream_body())
    if loop is None:
        api.release_body()  # sent, and no later round needs it: the answer may take minutes
    if response.status >= 400:
        return upstream_error_answer(response, record)
    if api.streaming and is_event_stream(response):
        rounds = toolloop.LoopStream(loop) if loop else PlainStream(api, record)
        events = relay_stream(response, rounds, record)
        return Response(stream_with_context(events), status=response.status, headers=relayed_headers(response.headers))
    answers = toolloop.LoopAnswers(loop) if loop else PlainAnswer(api, record)
    return relay_blocking(response, answers, record)


def _outgoing(gateway, path: str, api: Api, requested_model: str, actor, byok: bool) -> Outgoing:
    """What each attempt sends (the provider's credential is added per attempt, by the key it uses)."""
    return Outgoing(
        path=path,
        query=request.query_string.decode("latin-1"),
        headers=_upstream_headers(gateway, actor, byok),
        timeout=gateway.config.upstream_timeout,
        endpoint=api.name,
        model=requested_model,
        shape=api.error_shape,
    )


def _interception(provider, api: Api, actor, send: UpstreamAttempts, client: str,
                  client_session: str | None) -> Interception:
    return Interception(
        interception_id=new_interception_id(),
        initiator_id=actor.id,
        initiator_username=actor.username,
        provider=provider.type,
        provider_name=provider.name,
        model=api.model,
        client=client,
        client_session_id=client_session,
        user_agent=request.headers.get("User-Agent", ""),
        started_at=utcnow(),
        api=api.name,
        streaming=api.streaming,
        credential_kind=send.kind,
        credential_hint=send.hint,
    )


def _upstream_headers(gateway, actor, byok: bool) -> dict[str, str]:
    headers = forward_headers(request.headers, keep_client_credentials=byok)
    if gateway.config.send_actor_headers:
        headers["X-AI-Bridge-Actor-ID"] = _header_value(actor.id)
        headers["X-AI-Bridge-Actor-Metadata-Username"] = _header_value(actor.username)
    return headers


def _header_value(text: str) -> str:
    """``text`` as its UTF-8 bytes on the wire (header strings go out as latin-1)."""
    return text.encode().decode("latin-1")


def _client_key(headers) -> str:
    """The client's own provider key (BYOK), as it goes upstream: X-Api-Key, else the Authorization token.

    A header that repeats the gateway token does not go upstream (see forward_headers): it is not the key.
    """
    governance = headers.get(GOVERNANCE_HEADER)
    for name in ("X-Api-Key", "Authorization"):
        value = headers.get(name, "")
        if value and not (governance and governance in value):
            scheme, _, token = value.partition(" ")
            return token.strip() if token and scheme.lower() in ("bearer", "token") else value
    return ""
