"""The one error of the upstream package, and the one place lower-layer exceptions become it.

Whatever fails between the gateway and a provider (connecting, writing the
request, waiting for the answer, reading its body or stream) reaches the rest
of the gateway as an :class:`UpstreamError`. Nothing outside this package
names socket, ssl or urllib3 exceptions.
"""

from __future__ import annotations

import contextlib
import socket

import urllib3.exceptions

from .http1 import BrokenBody, ConnectFailed

UNREACHABLE = "unreachable"  # could not connect (refused, DNS, TLS): the request was never sent
TIMEOUT = "timeout"  # no byte within the timeout: connecting, waiting for the answer, or mid-body
BROKEN = "broken"  # the connection broke or the answer was not HTTP, after the request went out


class UpstreamError(Exception):
    """A provider could not be reached, did not answer in time, or broke off its answer.

    ``kind`` is UNREACHABLE, TIMEOUT or BROKEN; ``host`` names the upstream (never
    a URL, which could carry credentials); ``request_sent`` is False only when the
    provider provably never received the request (safe to send again).
    """

    def __init__(self, kind: str, message: str, host: str = "", request_sent: bool = True):
        super().__init__(message)
        self.kind = kind
        self.host = host
        self.request_sent = request_sent

    @property
    def status(self) -> int:
        """The HTTP status a client gets for this failure: 504 for a timeout, else 502."""
        return 504 if self.kind == TIMEOUT else 502


@contextlib.contextmanager
def mapped_errors(host: str, reading: bool = False):
    """Turn the lower layers' exceptions into UpstreamError.

    ``reading`` is True while the answer's body is read (after its head arrived).
    """
    try:
        yield
    except UpstreamError:
        raise
    except (ConnectFailed, urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
        # Nothing was written: the provider never saw this request. (NewConnectionError
        # subclasses ConnectTimeoutError, yet means "refused".)
        timed_out = getattr(exc, "timed_out", not isinstance(exc, urllib3.exceptions.NewConnectionError))
        kind = TIMEOUT if timed_out else UNREACHABLE
        raise UpstreamError(kind, _message(kind, host, "connect", exc), host, request_sent=False) from exc
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
        raise UpstreamError(TIMEOUT, _message(TIMEOUT, host, "read" if reading else "send", exc), host) from exc
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise UpstreamError(BROKEN, _message(BROKEN, host, "read" if reading else "send", exc), host) from exc


def _message(kind: str, host: str, phase: str, exc: BaseException) -> str:
    where = f"the upstream {host}" if host else "the upstream"
    reason = _reason(exc)
    if kind == TIMEOUT:
        if phase == "connect":
            return f"connecting to {where} timed out"
        if phase == "read":
            return f"{where} stopped sending before the answer was complete"
        return f"{where} did not answer in time"
    if kind == UNREACHABLE:
        return f"{where} could not be reached: {reason}"
    if phase == "read":
        return f"the connection to {where} broke: {reason}"
    return f"{where} broke off the exchange before answering: {reason}"


def _reason(exc: BaseException) -> str:
    """The innermost cause: its type, and for our own client's errors their message (never a URL)."""
    cause = exc
    while True:
        inner = cause.__cause__ or getattr(cause, "reason", None)
        if not isinstance(inner, BaseException) or inner is cause:
            break
        cause = inner
    if isinstance(cause, BrokenBody):
        return str(cause)
    if isinstance(cause, socket.gaierror):
        return f"{type(cause).__name__} (the host name did not resolve)"
    return type(cause).__name__
