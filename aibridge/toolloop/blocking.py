"""The injected-tool loop for blocking answers: every round read whole, one merged answer for the client."""

from __future__ import annotations

import json
import logging

from flask import Response

from ..upstream import Response as UpstreamResponse
from ..upstream import relayed_headers
from .rounds import LoopFailed, ToolLoopRun

log = logging.getLogger("aibridge.toolloop")


class LoopAnswers:
    """Reads each answer, runs its injected calls and asks again; answers the client once."""

    def __init__(self, run: ToolLoopRun):
        self.run = run
        self.answers: list[dict] = []

    def take(self, response: UpstreamResponse, content: bytes) -> Response | UpstreamResponse:
        """The client's answer, or the next round's response; raises LoopFailed when the loop cannot answer."""
        run = self.run
        try:
            answer = json.loads(content)
            if not isinstance(answer, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if not self.answers:  # nothing merged yet: the client gets the answer as sent, as without injected tools
                run.record.end("completed")
                return Response(content, status=response.status, headers=relayed_headers(response.headers))
            raise LoopFailed(502, f"the answer of the upstream {response.host} is not a JSON object: {exc}") from None
        round_log = run.new_round_log()
        try:
            run.api.record_blocking(round_log, content)
        except Exception:
            log.exception("could not read the records of interception %s", run.record.id)
        round_log.flush_tokens()
        turn = run.loop.blocking_turn(answer)
        self.answers.append(answer)
        calls = run.injected_calls(turn, round_log)
        if calls is None:
            run.record.end("completed")
            merged = json.dumps(run.loop.merge_blocking(self.answers), ensure_ascii=False)
            return Response(merged, status=response.status, headers=relayed_headers(response.headers))
        if run.capped:
            raise run.capped_failure(calls, round_log, turn)
        run.run_calls(calls, round_log, turn)
        return run.send()
