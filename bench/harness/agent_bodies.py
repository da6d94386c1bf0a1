"""Request bodies shaped like a coding agent's, in Anthropic Messages and OpenAI Chat form, at a given size.

A body is a long system prompt, the 24 tools of agent_tools.py, a first user turn
(project instructions and the task), then rounds of assistant tool calls and
their results (files read, test output, grep hits, edits) until the body
reaches the size asked for; the last tool result is trimmed to land on it.
Seeded text: the same size gives the same bytes on every run, and a smaller
body's conversation is the start of a larger one's. Blocking requests (no
``stream``): what wrk sends.
"""

from __future__ import annotations

import functools
import hashlib
import json

from . import agent_tools
from .agent_text import Text

SYSTEM_CHARS = 14_000
INSTRUCTIONS_CHARS = 3_000
_ROUND_TOOLS = ("Read", "Bash", "Grep", "Read", "Edit", "TodoWrite", "Read", "Bash")
_JSON = {"ensure_ascii": False, "separators": (",", ":")}


def _dumps(obj) -> bytes:
    return json.dumps(obj, **_JSON).encode()


@functools.lru_cache(maxsize=1)
def _preamble() -> dict:
    """System prompt, tools and first user turn: the part every agent request starts with."""
    text = Text(1)
    system = "You are an interactive CLI tool that helps users with software engineering tasks.\n\n"
    sections = ("Tone and style", "Proactiveness", "Following conventions", "Doing tasks", "Tool usage policy", "Code references")
    per_section = SYSTEM_CHARS // len(sections)
    system += "\n\n".join(f"# {title}\n{text.prose(per_section)}" for title in sections)
    instructions = "<system-reminder>\nContents of /home/dev/project/CLAUDE.md (project instructions):\n\n"
    instructions += text.prose(INSTRUCTIONS_CHARS) + "\n</system-reminder>"
    task = "The recorder drops records when the database is locked. " + text.paragraph(4) + " Find the cause and fix it; run the tests."
    return {"system": system, "instructions": instructions, "task": task, "tools": agent_tools.tools()}


def _result_for(tool: str, text: Text) -> str:
    if tool == "Read":
        return text.source_file(text.rng.randint(40, 140))
    if tool in ("Bash", "Grep"):
        return text.shell_output(text.rng.randint(15, 70))
    if tool == "Edit":
        return "The file has been updated. Here's the result of running `cat -n` on a snippet:\n" + text.source_file(12)
    return "Todos have been modified successfully. Ensure that you continue to use the todo list to track your progress."


@functools.lru_cache(maxsize=1)
def _rounds(count: int = 400) -> tuple:
    """Assistant tool call + result rounds, API-neutral: (thinking, signature, text, tool, id, input, result)."""
    text = Text(3)
    out = []
    for number in range(count):
        tool = _ROUND_TOOLS[number % len(_ROUND_TOOLS)]
        thinking = text.paragraph(text.rng.randint(2, 5))
        out.append((thinking, text.signature(), text.sentence(), tool, text.tool_id(""), agent_tools.example_input(tool, text), _result_for(tool, text)))
    return tuple(out)


def _anthropic_round(round_, result: str) -> list[dict]:
    thinking, signature, said, tool, call_id, arguments, _ = round_
    return [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": thinking, "signature": signature},
                {"type": "text", "text": said},
                {"type": "tool_use", "id": f"toolu_{call_id}", "name": tool, "input": arguments},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{call_id}", "content": result}]},
    ]


def _chat_round(round_, result: str) -> list[dict]:
    _, _, said, tool, call_id, arguments, _ = round_
    call = {"id": f"call_{call_id}", "type": "function", "function": {"name": tool, "arguments": json.dumps(arguments, **_JSON)}}
    return [
        {"role": "assistant", "content": said, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": f"call_{call_id}", "content": result},
    ]


def _anthropic_body(model: str, rounds: list[list[dict]]) -> dict:
    pre = _preamble()
    first = {"role": "user", "content": [{"type": "text", "text": pre["instructions"]}, {"type": "text", "text": pre["task"]}]}
    return {
        "model": model,
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": pre["system"], "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [first, *(m for r in rounds for m in r)],
        "tools": [{"name": t["name"], "description": t["description"], "input_schema": t["schema"]} for t in pre["tools"]],
        "metadata": {"user_id": "user_5f0c7a_account__session_0b9d3e41-bench"},
    }


def _chat_body(model: str, rounds: list[list[dict]]) -> dict:
    pre = _preamble()
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": pre["system"]},
            {"role": "user", "content": pre["instructions"] + "\n\n" + pre["task"]},
            *(m for r in rounds for m in r),
        ],
        "tools": [{"type": "function", "function": {"name": t["name"], "description": t["description"], "parameters": t["schema"]}} for t in pre["tools"]],
        "tool_choice": "auto",
        "max_tokens": 4096,
    }


_SHAPES = {"messages": (_anthropic_round, _anthropic_body), "chat": (_chat_round, _chat_body)}


@functools.lru_cache(maxsize=16)
def body(api: str, model: str, size: int) -> bytes:
    """An agent-shaped ``api`` ("messages" or "chat") body of about ``size`` bytes (within a few bytes)."""
    make_round, make_body = _SHAPES[api]
    rounds: list[list[dict]] = []
    length = len(_dumps(make_body(model, [])))
    for round_ in _rounds():
        if length >= size:
            break
        rounds.append(make_round(round_, round_[-1]))
        length += sum(len(_dumps(m)) + 1 for m in rounds[-1])
    else:
        raise ValueError(f"{size} bytes is more than the generated conversation holds")
    encoded = _dumps(make_body(model, rounds))
    for _ in range(4):  # trim the last tool result so the body lands on the size asked for
        over = len(encoded) - size
        result = rounds[-1][-1]["content"] if api == "chat" else rounds[-1][-1]["content"][0]["content"]
        if over <= 0 or over >= len(result) - 100:
            break
        rounds[-1] = make_round(_rounds()[len(rounds) - 1], result[: len(result) - over])
        encoded = _dumps(make_body(model, rounds))
    return encoded


def describe(data: bytes) -> dict:
    """Size, digest and shape of a body, for the report."""
    parsed = json.loads(data)
    messages = parsed["messages"]
    calls = sum(1 for m in messages if m.get("tool_calls") or any(isinstance(b, dict) and b.get("type") == "tool_use" for b in (m.get("content") or []) if isinstance(m.get("content"), list)))
    return {
        "bytes": len(data),
        "kib": round(len(data) / 1024, 1),
        "sha256": hashlib.sha256(data).hexdigest()[:16],
        "messages": len(messages),
        "tools": len(parsed.get("tools", [])),
        "tool_calls": calls,
    }
