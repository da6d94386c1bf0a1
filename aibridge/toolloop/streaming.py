"""The injected-tool loop for streamed answers: the relay loop's rounds, joined by the API's rewriter."""

from __future__ import annotations

import logging

from ..apis.base import observe_event
from ..upstream import Response
from .rounds import RoundLog, ToolLoopRun

log = logging.getLogger("aibridge.toolloop")


class LoopStream:
    """Each round's visible events as they arrive, the closing ones once; between rounds the gateway runs the tools."""

    def __init__(self, run: ToolLoopRun):
        self.run = run
        self.rewriter = run.loop.stream_rewriter()
        self.round_log: RoundLog | None = None
        self.observer = None
        self._failure: str | None = None

    def start_round(self) -> None:
        self.round_log = self.run.new_round_log()
        self.observer = self.run.api.stream_observer(self.round_log)
        self.rewriter.start_round()

    def event(self, event) -> bytes | None:
        observe_event(self.observer, event, self.run.record.id)
        try:
            return self.rewriter.event(event)
        except Exception:
            # An event the rewriter cannot read (e.g. not JSON) reaches the client as sent, as without the loop.
            log.exception("could not rewrite an event of interception %s", self.run.record.id)
            return event.raw

    def end_round(self) -> tuple[bytes, Response | None]:
        """The closing events when the answer is complete, else the next round's upstream response.

        Raises LoopFailed when the model kept calling injected tools past the cap.
        """
        self._finish_round()
        run, round_log = self.run, self.round_log
        turn = self.rewriter.turn()
        calls = run.injected_calls(turn, round_log)
        if calls is None:
            if self._failure is None and (turn.failed or not turn.complete):
                self._failure = "" if turn.failed else "the upstream answer did not complete"
            return self.rewriter.end_round(final=True), None
        self.rewriter.end_round(final=False)
        if run.capped:
            raise run.capped_failure(calls, round_log, turn)
        run.run_calls(calls, round_log, turn)
        return b"", run.send()

    def error_event(self, status: int, message: str) -> bytes:
        return self.rewriter.error_event(status, message)

    def finish(self) -> None:
        self._finish_round()

    def failure(self) -> str | None:
        return self._failure

    def _finish_round(self) -> None:
        """Announce the round's pending records (once per round, also when the stream was cut)."""
        observer, self.observer = self.observer, None
        if observer is None:
            return
        if observer.failure is not None and self._failure is None:
            self._failure = observer.failure  # the upstream's error event: its message says why
        try:
            observer.finish()
        except Exception:
            log.exception("could not finish the records of interception %s", self.run.record.id)
        self.round_log.flush_tokens()
