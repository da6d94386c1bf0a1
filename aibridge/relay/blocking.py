"""Blocking (non-streamed) answers: read whole, recorded, answered once.

:func:`relay_blocking` drives one upstream answer, or the tool loop's several:
an upstream HTTP error is relayed as sent, a failure to read becomes 502 / 504,
and what the client gets is up to the ``Answers`` in charge.
"""

from __future__ import annotations

import logging
from typing import Protocol

from flask import Response

from ..upstream import Response as UpstreamResponse
from ..upstream import UpstreamError, relayed_headers
from .answers import failure_answer, upstream_error_answer

log = logging.getLogger("aibridge.relay")


class Answers(Protocol):
    def take(self, response: UpstreamResponse, content: bytes) -> Response | UpstreamResponse:
        """The client's answer, or the next round's upstream response (may raise UpstreamError)."""


def relay_blocking(response: UpstreamResponse, answers: Answers, record, shape: str) -> Response:
    """Read each upstream answer whole and hand it to ``answers`` until it gives the client's answer."""
    while True:
        if response.status >= 400:
            return upstream_error_answer(response, record)
        try:
            content = response.read()
            taken = answers.take(response, content)
        except UpstreamError as error:
            response.close()
            return failure_answer(shape, error, record)
        if isinstance(taken, Response):
            return taken
        response = taken


class PlainAnswer:
    """A blocking answer without injected tools: recorded, then relayed as sent."""

    def __init__(self, api, record):
        self.api = api
        self.record = record

    def take(self, response: UpstreamResponse, content: bytes) -> Response:
        try:
            self.api.record_blocking(self.record, content)
        except Exception:
            log.exception("could not read the records of interception %s", self.record.id)
        self.record.end("completed")
        return Response(content, status=response.status, headers=relayed_headers(response.headers))
