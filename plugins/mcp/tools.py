"""From MCP tool listings to injected tools and back: names, allow/deny filters, result text."""

from __future__ import annotations

import hashlib
import json
import re

from aibridge import Tool

PREFIX = "bmcp_"
# Provider APIs accept tool names made of letters, digits, "_" and "-" only, at most 64 of them (OpenAI's limit).
_NOT_ALLOWED_IN_NAMES = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME_LENGTH = 64
_HASH_LENGTH = 8


def injected_name(server: str, tool: str) -> str:
    """The name the model sees: ``bmcp_<server>_<tool>``.

    A longer name than the providers accept keeps its readable start and ends
    in ``_`` and a short hash of the server and tool names, so it is the same
    at every listing and on every gateway, and two long names do not collide.
    """
    name = f"{PREFIX}{server}_{_NOT_ALLOWED_IN_NAMES.sub('_', tool)}"
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:_HASH_LENGTH]
    return f"{name[:MAX_NAME_LENGTH - _HASH_LENGTH - 1]}_{digest}"


class ToolFilter:
    """Allow / deny regexes on MCP tool names: deny wins; with an allow regex a tool must match it."""

    def __init__(self, allow: str = "", deny: str = ""):
        self.allow = re.compile(allow) if allow else None
        self.deny = re.compile(deny) if deny else None

    def allows(self, name: str) -> bool:
        if self.deny is not None and self.deny.search(name):
            return False
        return self.allow is None or bool(self.allow.search(name))


def injected_tool(server: str, server_url: str, listed: dict) -> Tool:
    """The Tool record for one entry of a ``tools/list`` answer."""
    schema = listed.get("inputSchema")
    if not isinstance(schema, dict):
        schema = {"type": "object", "properties": {}}
    description = listed.get("description") or listed.get("title") or ""
    return Tool(
        name=injected_name(server, listed["name"]),
        description=str(description),
        input_schema=schema,
        server_url=server_url,
    )


def result_text(result: dict) -> str:
    """The text the model gets for a CallToolResult: its content blocks, one per line."""
    parts = [_block_text(block) for block in result.get("content") or [] if isinstance(block, dict)]
    parts = [part for part in parts if part]
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"], ensure_ascii=False))
    return "\n".join(parts)


def _block_text(block: dict) -> str:
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "resource":
        resource = block.get("resource") or {}
        return str(resource.get("text") or f"[resource {resource.get('uri', '')}]")
    if kind == "resource_link":
        return f"[resource {block.get('uri', '')}]"
    if kind in ("image", "audio"):
        return f"[{kind} {block.get('mimeType', '')}]".replace(" ]", "]")
    return ""
