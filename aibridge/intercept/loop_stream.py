"""The injected-tool loop for streaming requests: every round relayed live through the API's rewriter."""

from __future__ import annotations

import logging

import urllib3.exceptions

from . import upstream
from .loop_rounds import Rounds, error_message, failure_status, is_event_stream
from .sse import SSESplitter

log = logging.getLogger("aibridge.intercept")


def stream_loop(rounds: Rounds, response):
    """Yield the client's one stream: each round's visible events as they arrive, the closing ones once."""
    rewriter = rounds.loop.stream_rewriter()
    status = "client_disconnected"
    try:
        while True:
            round_log = rounds.new_round_log()
            rewriter.start_round()
            failure = yield from _relay_round(rounds, response, rewriter, round_log)
            if failure is not None:
                status = "failed"
                yield failure
                return
            turn = rewriter.turn()
            calls = rounds.injected_calls(turn, round_log)
            if calls is None:
                yield rewriter.end_round(final=True)
                status = "failed" if turn.failed or not turn.complete else "completed"
                return
            rewriter.end_round(final=False)
            if rounds.capped:
                rounds.record_not_run(calls, round_log, turn, rounds.cap_message())
                status = "failed"
                yield rewriter.error_event(422, rounds.cap_message())
                return
            rounds.run_calls(calls, round_log, turn)
            response, failure = _send_follow_up(rounds, rewriter)
            if failure is not None:
                status = "failed"
                yield failure
                return
    except Exception:
        log.exception("the injected-tool loop of interception %s failed", rounds.record.id)
        status = "failed"
        yield rewriter.error_event(502, "the gateway could not complete the answer")
    finally:
        rounds.record.end(status)


def _relay_round(rounds: Rounds, response, rewriter, round_log):
    """Relay one round's stream through the rewriter (records from a copy); returns a failure event, or None."""
    observer = rounds.api.stream_observer(round_log)
    try:
        splitter = SSESplitter()
        for chunk in upstream.read_chunks(response):
            for event in splitter.feed(chunk):
                out = _take(rounds, observer, rewriter, event)
                if out:
                    yield out
        tail = splitter.flush()
        if tail is not None:
            out = _take(rounds, observer, rewriter, tail)
            if out:
                yield out
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        return rewriter.error_event(504, "the upstream stopped sending before the answer was complete")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return rewriter.error_event(502, f"the upstream connection broke: {type(exc).__name__}")
    finally:
        response.close()
        try:
            observer.finish()
        except Exception:
            log.exception("could not finish the records of interception %s", rounds.record.id)
        round_log.flush_tokens()
    return None


def _take(rounds: Rounds, observer, rewriter, event) -> bytes | None:
    try:
        observer.event(event)
    except Exception:
        # Recording never breaks the relay.
        log.exception("could not read an event of interception %s", rounds.record.id)
    try:
        return rewriter.event(event)
    except Exception:
        # An event the rewriter cannot read (e.g. not JSON) reaches the client as sent, as without the loop.
        log.exception("could not rewrite an event of interception %s", rounds.record.id)
        return event.raw


def _send_follow_up(rounds: Rounds, rewriter):
    """The next round's response, or a failure event for the client (its stream already began)."""
    try:
        response = rounds.send()
    except (upstream.UpstreamTimeout, upstream.UpstreamUnreachable) as exc:
        return None, rewriter.error_event(failure_status(exc), str(exc))
    if response.status_code >= 400:
        try:
            message = error_message(response.content)
        except Exception:
            message = ""
        finally:
            response.close()
        return None, rewriter.error_event(response.status_code, message or f"the upstream answered HTTP {response.status_code}")
    if not is_event_stream(response):
        response.close()
        return None, rewriter.error_event(502, "the upstream answered a streaming request without an event stream")
    return response, None
