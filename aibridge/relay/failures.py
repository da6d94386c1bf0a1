"""Why an intercepted request did not complete: the one place a failure gets its error kind.

Each way an intercepted request fails becomes a :class:`Failure`: the
record's status and :class:`~aibridge.records.InterceptionError` (the kinds
are listed in docs/recording.md), and the status and message of the error the
client gets: an error response in the API's shape before the first byte
(``intercept``), an error event in the API's form after it (the relay loop).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from greenlet import GreenletExit

from ..errors import error_message
from ..records import InterceptionError
from ..toolloop import LoopFailed
from ..upstream import BROKEN, TIMEOUT, UNREACHABLE, UpstreamError
from ..upstream import Response as UpstreamResponse
from .client_watch import ClientDisconnected

log = logging.getLogger("aibridge.relay")

COMPLETED = "completed"
FAILED = "failed"
CLIENT_DISCONNECTED = "client_disconnected"

# What may end a request early and still leave it to answer: its own failures, its client
# leaving (ClientDisconnected, a GreenletExit), and the server stopping (a request's greenlet
# is otherwise killed only when the server stops: `aibridge server` after --shutdown-grace,
# gunicorn's gevent worker after its graceful timeout).
HANDLED = (Exception, GreenletExit)

_UPSTREAM_KINDS = {UNREACHABLE: "upstream_unreachable", TIMEOUT: "upstream_timeout", BROKEN: "stream_error"}


@dataclass(frozen=True)
class Failure:
    """How one failure is recorded (``status``, ``error``) and told to the client (``http_status``, ``message``)."""

    status: str
    error: InterceptionError
    http_status: int
    message: str

    @property
    def client_left(self) -> bool:
        """Nobody is left to tell."""
        return self.status == CLIENT_DISCONNECTED


def _failed(kind: str, http_status: int, message: str, upstream_status: int | None = None) -> Failure:
    return Failure(FAILED, InterceptionError(kind, message, upstream_status), http_status, message)


CLIENT_LEFT = Failure(
    CLIENT_DISCONNECTED,
    InterceptionError(CLIENT_DISCONNECTED, "the client closed the connection before the answer was complete"),
    499, "",
)


def failure_of(exc: BaseException, interception_id: str) -> Failure:
    """The failure an exception raised while relaying stands for; a fault of the gateway's own is logged."""
    if isinstance(exc, UpstreamError):
        return _failed(_UPSTREAM_KINDS.get(exc.kind, "stream_error"), exc.status, str(exc))
    if isinstance(exc, LoopFailed):
        return _failed("stream_error", exc.status, str(exc))
    if isinstance(exc, ClientDisconnected):  # before GreenletExit: it is one
        return CLIENT_LEFT
    if isinstance(exc, GreenletExit):
        return _failed("gateway_shutdown", 503, "the gateway is shutting down and cut this answer: send the request again")
    log.error("interception %s failed", interception_id, exc_info=exc)
    # The record names the exception without its text, which could hold anything.
    error = InterceptionError("internal", f"{type(exc).__name__} in the gateway (see its log)")
    return Failure(FAILED, error, 500, "the gateway could not handle this request (see the gateway's log)")


def upstream_refused(response: UpstreamResponse) -> tuple[Failure, bytes]:
    """An upstream HTTP error answer, read and closed: its failure (the provider's own message), and its body."""
    try:
        content = response.read()
    except UpstreamError:  # the body broke off: the status still says what happened
        content = b""
    finally:
        response.close()
    status = response.status
    message = error_message(content) or f"the upstream {response.host} answered HTTP {status}"
    return _failed("upstream_status", status, message, upstream_status=status), content


def later_round_failure(response: UpstreamResponse) -> Failure:
    """A later round of a streamed answer (injected tools) that came back as an HTTP error or not as a stream."""
    if response.status >= 400:
        return upstream_refused(response)[0]
    response.close()
    return _failed("stream_error", 502, f"the upstream {response.host} answered a streaming request without an event stream")


def upstream_error_event(message: str) -> Failure:
    """The upstream's own error event in the stream (already relayed to the client as it came)."""
    return _failed("stream_error", 502, message or "the upstream sent an error event")
