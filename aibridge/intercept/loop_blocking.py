"""The injected-tool loop for blocking requests: every round read whole, one merged answer for the client."""

from __future__ import annotations

import json
import logging

from flask import Response

from ..errors import error_response
from . import upstream
from .loop_rounds import Rounds, failure_status
from .upstream_error import relay_error

log = logging.getLogger("aibridge.intercept")


def blocking_loop(rounds: Rounds, response) -> Response:
    """Read each answer, run its injected calls, ask again; answer the client once."""
    answers: list[dict] = []
    while True:
        try:
            content = response.content
        except Exception as exc:
            response.close()
            rounds.record.end("failed")
            return error_response(rounds.shape, failure_status(exc), str(exc))
        try:
            answer = json.loads(content)
            if not isinstance(answer, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if not answers:  # nothing merged yet: the client gets the answer as sent, as without injected tools
                rounds.record.end("completed")
                return Response(content, status=response.status_code, headers=upstream.relayed_headers(response.headers))
            rounds.record.end("failed")
            return error_response(rounds.shape, 502, f"the upstream answer is not a JSON object: {exc}")
        round_log = rounds.new_round_log()
        try:
            rounds.api.record_blocking(round_log, content)
        except Exception:
            log.exception("could not read the records of interception %s", rounds.record.id)
        round_log.flush_tokens()
        turn = rounds.loop.blocking_turn(answer)
        answers.append(answer)
        calls = rounds.injected_calls(turn, round_log)
        if calls is None:
            rounds.record.end("completed")
            merged = json.dumps(rounds.loop.merge_blocking(answers), ensure_ascii=False)
            return Response(merged, status=response.status_code, headers=upstream.relayed_headers(response.headers))
        if rounds.capped:
            rounds.record_not_run(calls, round_log, turn, rounds.cap_message())
            rounds.record.end("failed")
            # 422, not 5xx: the SDKs would retry a 5xx and run the whole loop again.
            return error_response(rounds.shape, 422, rounds.cap_message())
        rounds.run_calls(calls, round_log, turn)
        try:
            response = rounds.send()
        except (upstream.UpstreamTimeout, upstream.UpstreamUnreachable) as exc:
            rounds.record.end("failed")
            return error_response(rounds.shape, failure_status(exc), str(exc))
        if response.status_code >= 400:
            return relay_error(response, rounds.record)


