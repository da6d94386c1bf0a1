"""The state of one injected-tool loop: the request body, the calls the gateway runs, their records."""

from __future__ import annotations

import json
import logging
import time

from ..apis.base import Call, Turn
from ..apis.shared import compact_json
from ..records import Tool, ToolResult, utcnow
from ..upstream import Response

log = logging.getLogger("aibridge.toolloop")


class LoopFailed(Exception):
    """The loop cannot give the client an answer; ``status`` is the HTTP status its error carries."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


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


class ToolLoopRun:
    """One interception's loop: sends each round, decides whether to go on, runs and records the calls."""

    def __init__(self, pm, max_rounds: int, api, record, tools: list[Tool], send):
        self.pm = pm
        self.max_rounds = max_rounds
        self.api = api
        self.record = record
        self.loop = api.tool_loop(api, tools)
        self._send = send
        self.request = json.loads(api.upstream_body())
        self.loop.inject(self.request)
        self.rounds_run = 0  # rounds of injected calls the gateway ran

    def body(self) -> bytes:
        """The request body as it stands now: the client's, the injected tools, the rounds so far."""
        return compact_json(self.request).encode()

    def send(self) -> Response:
        """Send the request body as it stands now (raises UpstreamError)."""
        return self._send(self.body())

    def new_round_log(self) -> RoundLog:
        return RoundLog(self.record, self.loop.tools)

    def injected_calls(self, turn: Turn, round_log: RoundLog) -> list[Call] | None:
        """The injected calls to run before asking again, or None when this round is the answer."""
        injected = [call for call in turn.calls if call.name in self.loop.tools]
        if not injected:
            return None
        if turn.failed or not turn.complete:
            self.record_not_run(injected, round_log, turn, "not run: the upstream answer did not complete")
            return None
        if len(injected) < len(turn.calls):
            # The client must answer its own calls: the answer goes to it, without ours.
            self.record_not_run(injected, round_log, turn, "not run: the model also called a client tool, so the answer went to the client")
            return None
        return injected

    @property
    def capped(self) -> bool:
        """Whether the gateway already ran as many rounds of calls as it may."""
        return self.rounds_run >= self.max_rounds

    def capped_failure(self, calls: list[Call], round_log: RoundLog, turn: Turn) -> LoopFailed:
        """The round's calls recorded as not run, and the loop's failure for having run as many rounds as it may."""
        message = (
            f"the model kept calling injected tools: stopped after {self.max_rounds} rounds "
            "(raise --aibridge-mcp-max-rounds / CODER_AIBRIDGE_MCP_MAX_ROUNDS to allow more)"
        )
        self.record_not_run(calls, round_log, turn, message)
        # 422, not 5xx: the SDKs would retry a 5xx and run the whole loop again.
        return LoopFailed(422, message)

    def run_calls(self, calls: list[Call], round_log: RoundLog, turn: Turn) -> None:
        """Run the round's injected calls, record them, and add the turn and results to the body."""
        self.rounds_run += 1
        results = []
        for call in calls:
            tool = self.loop.tools[call.name]
            result = self._timed_call(tool, call)
            self._record(call, round_log, turn, result.error)
            results.append((call, result))
        self.loop.follow_up(self.request, turn, results)

    def record_not_run(self, calls: list[Call], round_log: RoundLog, turn: Turn, reason: str) -> None:
        for call in calls:
            self._record(call, round_log, turn, reason)

    def _timed_call(self, tool: Tool, call: Call) -> ToolResult:
        """Run the call; announce it (``on_injected_tool_call``) however it ends, cut by the client leaving too."""
        started_at, started = utcnow(), time.monotonic()
        error = "cancelled"
        try:
            result = self._call(tool, call)
            error = result.error
            return result
        finally:
            self.record.injected_tool_call(call.id, call.name, tool.server_url, started_at,
                                           time.monotonic() - started, error)

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

    def _record(self, call: Call, round_log: RoundLog, turn: Turn, error: str | None) -> None:
        # The observer's record of the call (exact input, message id) when it saw one.
        msg_id, recorded = round_log.held.pop(call.id, (turn.msg_id, call.arguments))
        server_url = self.loop.tools[call.name].server_url
        self.record.tool(msg_id, call.id, call.name, recorded, server_url=server_url, injected=True, error=error)


def _failed(message: str) -> ToolResult:
    return ToolResult(content=f"Error: {message}", error=message)
