"""The one relay loop: upstream bytes to the client as they arrive, SSE events one by one.

Every streamed answer goes through :func:`relay_body`: passthrough (bytes as
they come), an intercepted stream (:class:`PlainStream`: each event observed
from a copy) and the injected-tool loop (several upstream rounds joined into
one stream, see ``toolloop``). :func:`relay_stream` drives the rounds and is
the one place where a failure after the first byte becomes an error event
(and its kind is chosen, through :mod:`.failures`).
"""

from __future__ import annotations

import logging
from typing import Callable, Iterator, Protocol

from ..apis.base import observe_event
from ..upstream import Response, chunks, is_event_stream
from .failures import CLIENT_LEFT, COMPLETED, HANDLED, Failure, failure_of, later_round_failure, upstream_error_event
from .sse import Event, SSESplitter

log = logging.getLogger("aibridge.relay")


def relay_body(response: Response, handle: Callable[[Event], bytes | None] | None = None) -> Iterator[bytes]:
    """Yield the upstream body: raw chunks, or with ``handle`` what it returns for each SSE event.

    Closes the response whatever happens; an UpstreamError reaches the caller.
    """
    try:
        if handle is None:
            yield from chunks(response)
            return
        splitter = SSESplitter()
        for chunk in chunks(response):
            for event in splitter.feed(chunk):
                out = handle(event)
                if out:
                    yield out
        tail = splitter.flush()
        if tail is not None:
            out = handle(tail)
            if out:
                yield out
    finally:
        response.close()


class Rounds(Protocol):
    """What the relay loop asks of a streamed interception (one round, or the tool loop's several)."""

    def start_round(self) -> None: ...

    def event(self, event: Event) -> bytes | None: ...

    def end_round(self) -> tuple[bytes, Response | None]:
        """The bytes held back for the round's end, and the next round's response (None: the answer is complete)."""

    def error_event(self, status: int, message: str) -> bytes: ...

    def finish(self) -> None:
        """The stream ended, completely or not: announce the records still pending (called once)."""

    def failure(self) -> str | None:
        """Why the answer itself failed (an upstream error event: its message, "" if none; an incomplete tool loop)."""


def relay_stream(response: Response, rounds: Rounds, record) -> Iterator[bytes]:
    """Relay each round's events; end the interception however the stream ends.

    A failure after the first byte ends the stream with an error event in the
    API's form (unless the client is gone); an error event of the upstream's
    own was relayed as it came and is what the record says.
    """
    failure: Failure | None = CLIENT_LEFT  # unless the loop gets to say otherwise (the client stopped reading)
    try:
        while response is not None:
            rounds.start_round()
            yield from relay_body(response, rounds.event)
            closing, response = rounds.end_round()
            if closing:
                yield closing
            if response is not None and not _streams(response):
                break  # a later round the upstream refused
        failure = None if response is None else later_round_failure(response)
    except HANDLED as exc:
        failure = failure_of(exc, record.id)
    finally:
        try:
            rounds.finish()
        except Exception:
            log.exception("could not finish the records of interception %s", record.id)
        upstream_error = rounds.failure()
        # The upstream's own error says why, even if the client left right after it.
        recorded = upstream_error_event(upstream_error) if upstream_error is not None else failure
        if recorded is None:
            record.end(COMPLETED)
        else:
            record.end(recorded.status, recorded.error)
    if failure is not None and not failure.client_left:
        yield rounds.error_event(failure.http_status, failure.message)


def _streams(response: Response) -> bool:
    return response.status < 400 and is_event_stream(response)


class PlainStream:
    """An intercepted stream without injected tools: one round, each event observed from a copy."""

    def __init__(self, api, record):
        self.api = api
        self.record = record
        self.observer = api.stream_observer(record)

    def start_round(self) -> None:
        pass

    def event(self, event: Event) -> bytes | None:
        return observe_event(self.observer, event, self.record.id)

    def end_round(self) -> tuple[bytes, None]:
        return self.observer.closing_bytes(), None

    def error_event(self, status: int, message: str) -> bytes:
        return self.api.stream_error_event(status, message)

    def finish(self) -> None:
        self.observer.finish()

    def failure(self) -> str | None:
        return self.observer.failure
