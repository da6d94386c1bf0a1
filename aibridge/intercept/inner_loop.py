"""Injected tools: offered to the model, run by the gateway, in rounds the client never sees.

Plugins contribute tools (``aibridge_tools``). When any apply, the request
body gets them after the client's own tools and the interception runs as a
loop: each upstream answer is recorded like any other; if the model called
injected tools (and no client-defined one), the gateway runs them
(``aibridge_call_tool``), appends the assistant turn and the results, and
asks upstream again. The client receives one answer in its API's exact form:
the visible parts of every round, none of the injected calls, summed usage.

What differs between the APIs is a :class:`~.loop_api.ToolLoop` per API
(loop_messages, loop_chat, loop_responses); loop_blocking and loop_stream
drive the rounds.
"""

from __future__ import annotations

import logging

from flask import Response, stream_with_context

from ..errors import error_response
from ..records import Tool
from . import upstream
from .loop_api import ToolLoop
from .loop_blocking import blocking_loop
from .loop_chat import ChatLoop
from .loop_messages import MessagesLoop
from .loop_responses import ResponsesLoop
from .loop_rounds import Rounds, failure_status, is_event_stream
from .loop_stream import stream_loop
from .upstream_error import relay_error

log = logging.getLogger("aibridge.intercept")

_LOOPS: dict[str, type[ToolLoop]] = {"messages": MessagesLoop, "chat_completions": ChatLoop, "responses": ResponsesLoop}


def injected_tools(pm, api, interception) -> list[Tool]:
    """The tools plugins inject into this request (none when the API or request takes none)."""
    kind = _LOOPS.get(api.name)
    impls = pm.hook.aibridge_tools.get_hookimpls()
    if kind is None or not impls or not kind.wants_tools(api):
        return []
    taken = kind.client_tool_names(api.body)  # a client tool keeps its name
    tools: list[Tool] = []
    for impl in reversed(impls):
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            contributed = impl.function(interception=interception) or []
        except Exception:
            # A failing tool plugin costs its tools, never the request.
            log.exception("plugin %r failed in aibridge_tools", impl.plugin_name)
            continue
        for tool in contributed:
            if isinstance(tool, Tool) and tool.name not in taken:
                taken.add(tool.name)
                tools.append(tool)
    return tools


def run(bridge, api, record, tools: list[Tool], send, shape: str) -> Response:
    """Handle an interception whose request gets injected tools; ``send(body)`` makes one upstream call."""
    rounds = Rounds(bridge.pm, bridge.config.mcp_max_rounds, api, record, _LOOPS[api.name](api, tools), send, shape)
    try:
        response = rounds.send()
    except (upstream.UpstreamTimeout, upstream.UpstreamUnreachable) as exc:
        record.end("failed")
        return error_response(shape, failure_status(exc), str(exc))
    if response.status_code >= 400:
        return relay_error(response, record)
    if api.streaming and is_event_stream(response):
        relayed = upstream.relayed_headers(response.headers)
        return Response(stream_with_context(stream_loop(rounds, response)), status=response.status_code, headers=relayed)
    return blocking_loop(rounds, response)
