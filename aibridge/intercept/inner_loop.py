"""Injected tools: offered to the model, run by the gateway, in rounds the client never sees.

Plugins contribute tools (``aibridge_tools``). When any apply, the request
body gets them after the client's own tools and the interception runs as a
loop: each upstream answer is recorded like any other; if the model called
injected tools (and no client-defined one), the gateway runs them
(``aibridge_call_tool``), appends the assistant turn and the results, and
asks upstream again. The client receives one answer in its API's exact form:
the visible parts of every round, none of the injected calls, summed usage.

What differs between the APIs lives in a :class:`ToolLoop` per API
(loop_messages, loop_chat, loop_responses); this module drives the rounds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import urllib3.exceptions
from flask import Response, stream_with_context

from ..errors import error_response
from ..records import Tool, ToolResult
from . import upstream
from .sse import SSESplitter

log = logging.getLogger("aibridge.intercept")


@dataclass
class Call:
    """A tool call the model made: ``arguments`` is the JSON text it produced."""

    id: str
    name: str
    arguments: str


@dataclass
class Turn:
    """One upstream answer as the loop needs it."""

    msg_id: str
    calls: list[Call]
    message: object  # the assistant turn in the API's own form, for the follow-up request
    complete: bool = True  # the answer arrived whole (a stream reached its end event)
    failed: bool = False  # the answer carried an error


class ToolLoop:
    """What one API supplies to the loop: the request side and the answer side."""

    def __init__(self, api, tools: list[Tool]):
        self.api = api
        self.tools = {tool.name: tool for tool in tools}

    @staticmethod
    def wants_tools(api) -> bool:
        """Whether this request may get injected tools at all."""
        return True

    @staticmethod
    def client_tool_names(body: dict) -> set[str]:
        raise NotImplementedError

    def inject(self, body: dict) -> None:
        """Add the injected tools after the client's own."""
        raise NotImplementedError

    def blocking_turn(self, answer: dict) -> Turn:
        raise NotImplementedError

    def follow_up(self, body: dict, turn: Turn, results: list[tuple[Call, ToolResult]]) -> None:
        """Append the assistant turn and the tool results to the request body."""
        raise NotImplementedError

    def merge_blocking(self, answers: list[dict]) -> dict:
        """The one answer the client gets for a loop of blocking rounds."""
        raise NotImplementedError

    def stream_rewriter(self) -> "StreamRewriter":
        raise NotImplementedError


class StreamRewriter:
    """Turns the event streams of every round into the one stream the client reads."""

    def start_round(self) -> None:
        """A new upstream answer begins."""

    def event(self, event) -> bytes | None:
        """The bytes the client gets for this upstream event (None: nothing)."""
        raise NotImplementedError

    def turn(self) -> Turn:
        """The round's answer, once its stream ended."""
        raise NotImplementedError

    def end_round(self, final: bool) -> bytes:
        """Bytes held back until the loop knew whether this round is the last (its closing events)."""
        raise NotImplementedError

    def error_event(self, status: int, message: str) -> bytes:
        """A failure after bytes were relayed, as an event of this API."""
        raise NotImplementedError


def loop_class(api) -> type[ToolLoop] | None:
    from .loop_chat import ChatLoop
    from .loop_messages import MessagesLoop
    from .loop_responses import ResponsesLoop

    return {"messages": MessagesLoop, "chat_completions": ChatLoop, "responses": ResponsesLoop}.get(api.name)


def injected_tools(pm, api, interception) -> list[Tool]:
    """The tools plugins inject into this request (none when the API or request takes none)."""
    kind = loop_class(api)
    if kind is None or not kind.wants_tools(api) or not pm.hook.aibridge_tools.get_hookimpls():
        return []
    taken = kind.client_tool_names(api.body)  # a client tool keeps its name
    tools: list[Tool] = []
    for impl in reversed(pm.hook.aibridge_tools.get_hookimpls()):
        try:
            contributed = impl.function(interception=interception) or []
        except Exception:
            log.exception("plugin %r failed in aibridge_tools", impl.plugin_name)
            continue
        for tool in contributed:
            if isinstance(tool, Tool) and tool.name not in taken:
                taken.add(tool.name)
                tools.append(tool)
    return tools


class RoundLog:
    """The interception's log for one round.

    Injected tool calls are held back until they ran (their record carries the
    outcome); token counts are added up and announced once per upstream message.
    """

    def __init__(self, log, injected: dict[str, Tool]):
        self._log = log
        self._injected = injected
        self.held: dict[str, tuple[str, str]] = {}  # call id -> (msg_id, recorded input)
        self._tokens: dict[str, dict] = {}

    def __getattr__(self, name):
        return getattr(self._log, name)

    def tokens(self, msg_id, input=0, output=0, cache_read=0, cache_write=0, metadata=None) -> None:
        counts = self._tokens.setdefault(msg_id, {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0, "metadata": {}})
        for key, value in (("input", input), ("output", output), ("cache_read", cache_read), ("cache_write", cache_write)):
            counts[key] += value
        counts["metadata"].update(metadata or {})

    def flush_tokens(self) -> None:
        """Announce the round's token counts: one record per upstream message."""
        pending, self._tokens = self._tokens, {}
        for msg_id, counts in pending.items():
            self._log.tokens(msg_id, **counts)

    def tool(self, msg_id, tool_call_id, name, input, **kwargs) -> None:
        if name in self._injected:
            self.held[tool_call_id] = (msg_id, input)
        else:
            self._log.tool(msg_id, tool_call_id, name, input, **kwargs)


class InnerLoop:
    """The rounds of one interception with injected tools."""

    def __init__(self, bridge, api, record, tools: list[Tool], send, shape: str):
        self.pm = bridge.pm
        self.max_rounds = bridge.config.mcp_max_rounds
        self.api = api
        self.record = record
        self.send = send
        self.shape = shape
        self.loop = loop_class(api)(api, tools)
        self.body = json.loads(api.upstream_body())
        self.loop.inject(self.body)
        self.rounds_run = 0  # rounds of injected calls the gateway ran

    def respond(self) -> Response:
        """Send the first round; relay an early failure as the plain relay would, else run the loop."""
        try:
            response = self._send()
        except (upstream.UpstreamTimeout, upstream.UpstreamUnreachable) as exc:
            self.record.end("failed")
            return error_response(self.shape, _failure_status(exc), str(exc))
        relayed = upstream.relayed_headers(response.headers)
        if response.status_code >= 400:
            return self._relay_error(response, relayed)
        if self.api.streaming and _is_sse(response):
            return Response(stream_with_context(self._stream(response)), status=response.status_code, headers=relayed)
        return self._blocking(response)

    def _send(self):
        body = json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()
        return self.send(body)

    # -- blocking ---------------------------------------------------------

    def _blocking(self, response) -> Response:
        answers: list[dict] = []
        while True:
            try:
                content = response.content
                answer = json.loads(content)
            except Exception as exc:
                response.close()
                self.record.end("failed")
                return error_response(self.shape, 502, f"the upstream answer broke off or is not JSON: {type(exc).__name__}")
            relayed = upstream.relayed_headers(response.headers)
            round_log = RoundLog(self.record, self.loop.tools)
            try:
                self.api.record_blocking(round_log, content)
            except Exception:
                log.exception("could not read the records of interception %s", self.record.id)
            round_log.flush_tokens()
            turn = self.loop.blocking_turn(answer)
            answers.append(answer)
            injected = self._continues(turn, round_log)
            if injected is None:
                self.record.end("completed")
                return Response(json.dumps(self.loop.merge_blocking(answers), ensure_ascii=False),
                                status=response.status_code, headers=relayed)
            if self.rounds_run >= self.max_rounds:
                self._record_not_run(injected, round_log, turn, self._cap_message())
                self.record.end("failed")
                return error_response(self.shape, 422, self._cap_message())
            self.loop.follow_up(self.body, turn, self._run_calls(injected, round_log, turn))
            try:
                response = self._send()
            except (upstream.UpstreamTimeout, upstream.UpstreamUnreachable) as exc:
                self.record.end("failed")
                return error_response(self.shape, _failure_status(exc), str(exc))
            if response.status_code >= 400:
                return self._relay_error(response, upstream.relayed_headers(response.headers))

    def _relay_error(self, response, relayed) -> Response:
        """An upstream HTTP error before any byte reached the client: status and body as sent."""
        try:
            content = response.content
        except Exception:
            content = b""
        finally:
            response.close()
            self.record.end("failed")
        return Response(content, status=response.status_code, headers=relayed)

    # -- streaming --------------------------------------------------------

    def _stream(self, response):
        rewriter = self.loop.stream_rewriter()
        status = "client_disconnected"
        try:
            while True:
                round_log = RoundLog(self.record, self.loop.tools)
                rewriter.start_round()
                failure = yield from self._relay_round(response, rewriter, round_log)
                if failure is not None:
                    status = "failed"
                    yield failure
                    return
                turn = rewriter.turn()
                injected = self._continues(turn, round_log)
                if injected is None:
                    yield rewriter.end_round(final=True)
                    status = "failed" if turn.failed or not turn.complete else "completed"
                    return
                rewriter.end_round(final=False)
                if self.rounds_run >= self.max_rounds:
                    self._record_not_run(injected, round_log, turn, self._cap_message())
                    status = "failed"
                    yield rewriter.error_event(422, self._cap_message())
                    return
                self.loop.follow_up(self.body, turn, self._run_calls(injected, round_log, turn))
                response, failure = self._send_follow_up(rewriter)
                if failure is not None:
                    status = "failed"
                    yield failure
                    return
        finally:
            self.record.end(status)

    def _relay_round(self, response, rewriter, round_log):
        """Relay one round's stream through the rewriter; returns a failure event, or None."""
        observer = self.api.stream_observer(round_log)
        try:
            splitter = SSESplitter()
            for chunk in upstream.read_chunks(response):
                for event in splitter.feed(chunk):
                    _observe(observer, event, self.record)
                    out = rewriter.event(event)
                    if out:
                        yield out
            tail = splitter.flush()
            if tail is not None:
                _observe(observer, tail, self.record)
                out = rewriter.event(tail)
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
                log.exception("could not finish the records of interception %s", self.record.id)
            round_log.flush_tokens()
        return None

    def _send_follow_up(self, rewriter):
        """The next round's response, or a failure event for the client (the stream already began)."""
        try:
            response = self._send()
        except (upstream.UpstreamTimeout, upstream.UpstreamUnreachable) as exc:
            return None, rewriter.error_event(_failure_status(exc), str(exc))
        if response.status_code >= 400:
            try:
                message = _error_message(response.content)
            except Exception:
                message = ""
            finally:
                response.close()
            return None, rewriter.error_event(response.status_code, message or f"the upstream answered HTTP {response.status_code}")
        if not _is_sse(response):
            response.close()
            return None, rewriter.error_event(502, "the upstream answered a streaming request without an event stream")
        return response, None

    # -- tool calls -------------------------------------------------------

    def _continues(self, turn: Turn, round_log: RoundLog) -> list[Call] | None:
        """The injected calls to run before asking again, or None when this round is the answer."""
        injected = [call for call in turn.calls if call.name in self.loop.tools]
        if not injected:
            return None
        if turn.failed or not turn.complete:
            self._record_not_run(injected, round_log, turn, "not run: the upstream answer did not complete")
            return None
        if len(injected) < len(turn.calls):
            # The client must answer its own calls: the answer goes to it, without ours.
            self._record_not_run(injected, round_log, turn, "not run: the model also called a client tool, so the answer went to the client")
            return None
        return injected

    def _run_calls(self, calls: list[Call], round_log: RoundLog, turn: Turn) -> list[tuple[Call, ToolResult]]:
        self.rounds_run += 1
        results = []
        for call in calls:
            tool = self.loop.tools[call.name]
            result = self._call(tool, call)
            self._record_call(call, round_log, turn, tool, result.error)
            results.append((call, result))
        return results

    def _call(self, tool: Tool, call: Call) -> ToolResult:
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            return _failed("the tool arguments are not a JSON object")
        try:
            result = self.pm.hook.aibridge_call_tool(interception=self.record.interception, tool=tool, arguments=arguments)
        except Exception as exc:
            log.exception("a plugin failed to run the injected tool %s", tool.name)
            return _failed(f"the tool could not be run: {type(exc).__name__}")
        if not isinstance(result, ToolResult):
            return _failed(f"no plugin runs the tool {tool.name}")
        return result

    def _record_call(self, call: Call, round_log: RoundLog, turn: Turn, tool: Tool, error: str | None) -> None:
        msg_id, recorded = round_log.held.pop(call.id, (turn.msg_id, call.arguments))
        self.record.tool(msg_id, call.id, call.name, recorded, server_url=tool.server_url, injected=True, error=error)

    def _record_not_run(self, calls: list[Call], round_log: RoundLog, turn: Turn, reason: str) -> None:
        for call in calls:
            self._record_call(call, round_log, turn, self.loop.tools[call.name], reason)

    def _cap_message(self) -> str:
        return (
            f"the model kept calling injected tools: stopped after {self.max_rounds} rounds "
            "(raise --aibridge-mcp-max-rounds / CODER_AIBRIDGE_MCP_MAX_ROUNDS to allow more)"
        )


def _observe(observer, event, record) -> None:
    try:
        observer.event(event)
    except Exception:
        log.exception("could not read an event of interception %s", record.id)


def _failed(message: str) -> ToolResult:
    return ToolResult(content=f"Error: {message}", error=message)


def _failure_status(exc: Exception) -> int:
    return 504 if isinstance(exc, upstream.UpstreamTimeout) else 502


def _is_sse(response) -> bool:
    return response.headers.get("Content-Type", "").startswith("text/event-stream")


def _error_message(content: bytes) -> str:
    """The message of an upstream error body in Anthropic's or OpenAI's shape ("" if neither)."""
    try:
        body = json.loads(content)
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else ""


def sum_usage(total: dict, usage: dict) -> dict:
    """Usage objects added up: counts summed (also nested), other values from the newer one."""
    merged = dict(total)
    for key, value in usage.items():
        old = merged.get(key)
        if isinstance(value, bool) or value is None:
            merged[key] = value if value is not None else old
        elif isinstance(value, int) and isinstance(old, int) and not isinstance(old, bool):
            merged[key] = old + value
        elif isinstance(value, dict) and isinstance(old, dict):
            merged[key] = sum_usage(old, value)
        else:
            merged[key] = value
    return merged


def sse_event(name: str | None, data: dict) -> bytes:
    """One SSE event with compact JSON data."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (f"event: {name}\ndata: {text}\n\n" if name else f"data: {text}\n\n").encode()


def run(bridge, api, record, tools: list[Tool], send, shape: str) -> Response:
    """Handle an interception whose request gets injected tools."""
    return InnerLoop(bridge, api, record, tools, send, shape).respond()
