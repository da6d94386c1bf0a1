"""The one relay loop: upstream bytes to the client as they arrive, SSE events one by one.

Every streamed answer goes through :func:`relay_body`: passthrough (bytes as
they come), an intercepted stream (:class:`PlainStream`: each event observed
from a copy) and the injected-tool loop (several upstream rounds joined into
one stream, see ``toolloop``). :func:`relay_stream` drives the rounds and is
the one place where a failure after the first byte becomes an error event.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterator, Protocol

from ..apis.base import observe_event
from ..upstream import Response, UpstreamError, chunks
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

    def failed(self) -> bool:
        """Whether the answer itself failed (an upstream error event, an incomplete tool loop)."""


def relay_stream(response: Response, rounds: Rounds, record) -> Iterator[bytes]:
    """Relay each round's events; end the interception however the stream ends."""
    status = "client_disconnected"  # unless the loop gets to say otherwise
    try:
        while response is not None:
            rounds.start_round()
            yield from relay_body(response, rounds.event)
            closing, response = rounds.end_round()
            if closing:
                yield closing
        status = "completed"
    except UpstreamError as error:
        status = "failed"
        yield rounds.error_event(error.status, str(error))
    except Exception:
        log.exception("the stream of interception %s failed", record.id)
        status = "failed"
        yield rounds.error_event(502, "the gateway could not complete the answer")
    finally:
        try:
            rounds.finish()
        except Exception:
            log.exception("could not finish the records of interception %s", record.id)
        if rounds.failed():
            status = "failed"  # the upstream's own error, even if the client left right after it
        record.end(status)


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

    def failed(self) -> bool:
        return self.observer.failed
