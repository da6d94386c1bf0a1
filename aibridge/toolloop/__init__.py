"""Injected tools: offered to the model, run by the gateway, in rounds the client never sees.

Plugins contribute tools (``aibridge_tools``). When any apply, the request
body gets them after the client's own tools and the interception runs as a
loop: each upstream answer is recorded like any other; if the model called
injected tools (and no client-defined one), the gateway runs them
(``aibridge_call_tool``), appends the assistant turn and the results, and
asks upstream again. The client receives one answer in its API's exact form:
the visible parts of every round, none of the injected calls, summed usage.

What differs between the APIs is each API's ``rewrite.py`` (its ToolLoop);
:mod:`.rounds` holds one loop's state, :mod:`.streaming` and :mod:`.blocking`
give the relay its rounds for either kind of answer.
"""

from __future__ import annotations

from ..plugins import collect
from ..records import Tool
from .blocking import LoopAnswers
from .rounds import LoopFailed, ToolLoopRun
from .streaming import LoopStream


def start(pm, max_rounds: int, api, record, send) -> ToolLoopRun | None:
    """The loop of an interception whose request gets injected tools, or None when none apply."""
    tools = injected_tools(pm, api, record.interception)
    return ToolLoopRun(pm, max_rounds, api, record, tools, send) if tools else None


def injected_tools(pm, api, interception) -> list[Tool]:
    """The tools plugins inject into this request (none when the API or request takes none), sorted by name.

    The order never depends on which plugin answered first or on the order an
    MCP server listed its tools: the same tools give the same request bytes,
    so the provider's prompt cache keeps matching.
    """
    loop = api.tool_loop
    if loop is None or not pm.hook.aibridge_tools.get_hookimpls() or not loop.wants_tools(api):
        return []
    # A failing tool plugin costs its tools, never the request.
    contributed = [tool for tools in collect(pm, "aibridge_tools", interception=interception) for tool in tools if isinstance(tool, Tool)]
    if not contributed:
        return []  # the client's tools (often tens of KiB) are decoded only when there is something to add
    taken = loop.client_tool_names(api.body)  # a client tool keeps its name
    tools: list[Tool] = []
    for tool in contributed:
        if tool.name not in taken:
            taken.add(tool.name)
            tools.append(tool)
    return sorted(tools, key=lambda tool: tool.name)


__all__ = ["LoopAnswers", "LoopFailed", "LoopStream", "ToolLoopRun", "injected_tools", "start"]
