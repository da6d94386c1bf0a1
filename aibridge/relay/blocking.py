"""Blocking (non-streamed) answers: read whole, recorded, answered once.

:func:`relay_blocking` drives one upstream answer, or the tool loop's several:
an upstream HTTP error is relayed as sent, and what the client gets is up to
the ``Answers`` in charge. A failure to read (UpstreamError) or of the loop
(LoopFailed) reaches the caller, which answers it in the API's error shape.
"""

from __future__ import annotations

import logging
from typing import Protocol

from flask import Response

from ..upstream import Response as UpstreamResponse
from ..upstream import relayed_headers
from .answers import upstream_error_answer
from .failures import COMPLETED

log = logging.getLogger("aibridge.relay")


class Answers(Protocol):
    def take(self, response: UpstreamResponse, content: bytes) -> Response | UpstreamResponse:
        """The client's answer, or the next round's upstream response (may raise UpstreamError)."""


def relay_blocking(response: UpstreamResponse, answers: Answers, record) -> Response:
    """Read each upstream answer whole and hand it to ``answers`` until it gives the client's answer."""
    while True:
        if response.status >= 400:
            return upstream_error_answer(response, record)
        try:
            content = response.read()
        finally:
            response.close()
        taken = answers.take(response, content)
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
        self.record.end(COMPLETED)
        return Response(content, status=response.status, headers=relayed_headers(response.headers))
