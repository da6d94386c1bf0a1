"""A session as threads (spec §15): each typed prompt and the agentic loop that follows it.

A thread starts at an interception with a prompt record (its last input has
text the person wrote) and goes on through the interceptions that only
return tool results: such an interception joins the thread of the calls its
results answer (matched by ``tool_call_id``), else the latest thread. Each
tool call carries its result, the ``tool_result`` record of a later request
with the same ``tool_call_id``, and whether it failed (an error result, or
an injected tool's invocation error).

Everything here is JSON-ready: the sessions API answers it as built, the
session page renders it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..storage import TOKEN_COLUMNS, records_cost, summed_cost

_REQUEST_FIELDS = ("id", "provider", "provider_name", "model", "client", "api", "streaming", "status", "error",
                   "started_at", "ended_at", "credential_kind", "credential_hint", "metadata")


def build_threads(interceptions: list[dict], children: dict[str, dict[str, list]]) -> list[dict[str, Any]]:
    """The session's threads, oldest first; ``interceptions`` oldest first, ``children`` by table and id."""
    results = _results_by_call(interceptions, children["tool_results"])
    threads: list[dict[str, Any]] = []
    thread_of_call: dict[str, dict] = {}
    for interception in interceptions:
        prompts = children["user_prompts"].get(interception["id"], [])
        returned = children["tool_results"].get(interception["id"], [])
        thread = None
        if not prompts:
            thread = next((thread_of_call[r["tool_call_id"]] for r in returned if r["tool_call_id"] in thread_of_call),
                          threads[-1] if threads else None)
        if thread is None:
            thread = {"number": len(threads) + 1, "prompt": prompts[-1] if prompts else None,
                      "started_at": interception["started_at"], "interceptions": []}
            threads.append(thread)
        request = request_json(interception, children, results)
        thread["interceptions"].append(request)
        for call in request["tool_calls"]:
            thread_of_call[call["tool_call_id"]] = thread
    calls = {call["tool_call_id"] for calls in children["tool_usages"].values() for call in calls}
    for thread in threads:
        for request in thread["interceptions"]:
            for result in request["tool_results"]:
                result["call_in_session"] = result["tool_call_id"] in calls
        thread["tokens"] = _summed(request["tokens"] for request in thread["interceptions"])
        thread.update(summed_cost(thread["interceptions"]))
        thread["failed"] = sum(1 for request in thread["interceptions"] if request["status"] == "failed")
    return threads


def request_json(interception: dict, children: dict[str, dict[str, list]],
                 results: dict[str, dict] | None = None) -> dict[str, Any]:
    """One interception of a thread: its fields, token sums, duration, tool calls with results, thoughts."""
    iid = interception["id"]
    answer = {name: interception[name] for name in _REQUEST_FIELDS}
    answer["initiator"] = {"id": interception["initiator_id"], "username": interception["initiator_username"]}
    answer["duration_ms"] = duration_ms(interception["started_at"], interception["ended_at"])
    answer["tokens"] = _summed(children["token_usages"].get(iid, []))
    answer.update(records_cost(children["token_usages"].get(iid, [])))
    answer["prompt"] = (children["user_prompts"].get(iid) or [None])[-1]
    answer["tool_calls"] = [_tool_call(call, (results or {}).get(call["tool_call_id"]))
                            for call in children["tool_usages"].get(iid, [])]
    answer["model_thoughts"] = [{"id": t["id"], "content": t["content"], "source": (t["metadata"] or {}).get("source"),
                                 "created_at": t["created_at"]} for t in children["model_thoughts"].get(iid, [])]
    answer["tool_results"] = [_result(r) for r in children["tool_results"].get(iid, [])]
    return answer


def matching_threads(threads: list[dict], text: str) -> list[dict]:
    """The threads with ``text`` (any case) in a prompt, tool call, result, thought, model or error."""
    needle = text.casefold()
    return [thread for thread in threads if any(needle in value.casefold() for value in _texts(thread))]


def duration_ms(started_at: str | None, ended_at: str | None) -> int | None:
    if not started_at or not ended_at:
        return None
    elapsed = dt.datetime.fromisoformat(ended_at) - dt.datetime.fromisoformat(started_at)
    return round(elapsed.total_seconds() * 1000)


def _results_by_call(interceptions: list[dict], by_interception: dict[str, list]) -> dict[str, dict]:
    """The first result returned for each tool call id in the session."""
    found: dict[str, dict] = {}
    for interception in interceptions:
        for result in by_interception.get(interception["id"], []):
            found.setdefault(result["tool_call_id"], result)
    return found


def _tool_call(call: dict, result: dict | None) -> dict[str, Any]:
    failed = bool(call["invocation_error"]) or bool(result and result["is_error"])
    return {"id": call["id"], "tool_call_id": call["tool_call_id"], "tool": call["tool"], "input": call["input"],
            "injected": call["injected"], "server_url": call["server_url"],
            "invocation_error": call["invocation_error"], "created_at": call["created_at"],
            "result": _result(result) if result else None, "failed": failed}


def _result(result: dict) -> dict[str, Any]:
    return {"id": result["id"], "interception_id": result["interception_id"], "tool_call_id": result["tool_call_id"],
            "is_error": result["is_error"], "content": result["content"], "created_at": result["created_at"]}


def _summed(usages) -> dict[str, int]:
    totals = dict.fromkeys(TOKEN_COLUMNS, 0)
    for usage in usages:
        for column in TOKEN_COLUMNS:
            totals[column] += usage[column] or 0
    return totals


def _texts(thread: dict):
    if thread["prompt"]:
        yield thread["prompt"]["prompt"] or ""
    for request in thread["interceptions"]:
        yield request["model"] or ""
        if request["error"]:
            yield request["error"].get("message") or ""
        for call in request["tool_calls"]:
            yield call["tool"] or ""
            yield call["input"] or ""
            if call["result"]:
                yield call["result"]["content"] or ""
        for thought in request["model_thoughts"]:
            yield thought["content"] or ""
        for result in request["tool_results"]:
            yield result["content"] or ""
