"""The 24 tool definitions of an agent-shaped request (names and schemas like a coding agent's).

Each tool is (name, what it does, size of its usage notes, parameters); a parameter is
(name, JSON type, description, required, extra schema keys). ``tools()`` returns them
API-neutral: name, description, JSON schema. About 50 KiB in all, as a coding agent's are.
"""

from __future__ import annotations

from .agent_text import Text

_S, _I, _B, _A, _O = "string", "integer", "boolean", "array", "object"

_TOOLS = [
    ("Task", "Launch a new agent to handle complex, multi-step tasks autonomously.", 5200, [
        ("description", _S, "A short (3-5 word) description of the task", True, {}),
        ("prompt", _S, "The task for the agent to perform", True, {}),
        ("subagent_type", _S, "The type of specialized agent to use for this task", True, {}),
    ]),
    ("Bash", "Executes a given bash command in a persistent shell session with optional timeout.", 8600, [
        ("command", _S, "The command to execute", True, {}),
        ("timeout", "number", "Optional timeout in milliseconds (max 600000)", False, {}),
        ("description", _S, "Clear, concise description of what this command does in 5-10 words", False, {}),
        ("run_in_background", _B, "Set to true to run this command in the background", False, {}),
    ]),
    ("Glob", "Fast file pattern matching tool that works with any codebase size.", 900, [
        ("pattern", _S, "The glob pattern to match files against", True, {}),
        ("path", _S, "The directory to search in; defaults to the current working directory", False, {}),
    ]),
    ("Grep", "A powerful search tool built on ripgrep.", 2600, [
        ("pattern", _S, "The regular expression pattern to search for in file contents", True, {}),
        ("path", _S, "File or directory to search in", False, {}),
        ("glob", _S, "Glob pattern to filter files", False, {}),
        ("output_mode", _S, "Output mode", False, {"enum": ["content", "files_with_matches", "count"]}),
        ("-B", "number", "Number of lines to show before each match", False, {}),
        ("-A", "number", "Number of lines to show after each match", False, {}),
        ("-C", "number", "Number of lines to show before and after each match", False, {}),
        ("-n", _B, "Show line numbers in output", False, {}),
        ("-i", _B, "Case insensitive search", False, {}),
        ("type", _S, "File type to search", False, {}),
        ("head_limit", "number", "Limit output to first N lines/entries", False, {}),
        ("multiline", _B, "Enable multiline mode", False, {}),
    ]),
    ("LS", "Lists files and directories in a given path.", 500, [
        ("path", _S, "The absolute path to the directory to list", True, {}),
        ("ignore", _A, "List of glob patterns to ignore", False, {"items": {"type": _S}}),
    ]),
    ("ExitPlanMode", "Use this tool when you are in plan mode and have finished presenting your plan.", 1100, [
        ("plan", _S, "The plan you came up with, that you want to run by the user for approval", True, {}),
    ]),
    ("Read", "Reads a file from the local filesystem.", 1700, [
        ("file_path", _S, "The absolute path to the file to read", True, {}),
        ("offset", "number", "The line number to start reading from", False, {}),
        ("limit", "number", "The number of lines to read", False, {}),
    ]),
    ("Edit", "Performs exact string replacements in files.", 1500, [
        ("file_path", _S, "The absolute path to the file to modify", True, {}),
        ("old_string", _S, "The text to replace", True, {}),
        ("new_string", _S, "The text to replace it with (must be different from old_string)", True, {}),
        ("replace_all", _B, "Replace all occurences of old_string (default false)", False, {"default": False}),
    ]),
    ("MultiEdit", "Makes multiple edits to a single file in one operation.", 2800, [
        ("file_path", _S, "The absolute path to the file to modify", True, {}),
        ("edits", _A, "Array of edit operations to perform sequentially on the file", True, {
            "minItems": 1,
            "items": {
                "type": _O,
                "properties": {
                    "old_string": {"type": _S, "description": "The text to replace"},
                    "new_string": {"type": _S, "description": "The text to replace it with"},
                    "replace_all": {"type": _B, "default": False, "description": "Replace all occurences"},
                },
                "required": ["old_string", "new_string"],
                "additionalProperties": False,
            },
        }),
    ]),
    ("Write", "Writes a file to the local filesystem.", 900, [
        ("file_path", _S, "The absolute path to the file to write (must be absolute, not relative)", True, {}),
        ("content", _S, "The content to write to the file", True, {}),
    ]),
    ("NotebookEdit", "Completely replaces the contents of a specific cell in a Jupyter notebook.", 900, [
        ("notebook_path", _S, "The absolute path to the Jupyter notebook file to edit", True, {}),
        ("cell_id", _S, "The ID of the cell to edit", False, {}),
        ("new_source", _S, "The new source for the cell", True, {}),
        ("cell_type", _S, "The type of the cell (code or markdown)", False, {"enum": ["code", "markdown"]}),
        ("edit_mode", _S, "The type of edit to make", False, {"enum": ["replace", "insert", "delete"]}),
    ]),
    ("WebFetch", "Fetches content from a specified URL and processes it using an AI model.", 1500, [
        ("url", _S, "The URL to fetch content from", True, {"format": "uri"}),
        ("prompt", _S, "The prompt to run on the fetched content", True, {}),
    ]),
    ("TodoWrite", "Use this tool to create and manage a structured task list for your current coding session.", 7600, [
        ("todos", _A, "The updated todo list", True, {
            "items": {
                "type": _O,
                "properties": {
                    "content": {"type": _S, "minLength": 1},
                    "status": {"type": _S, "enum": ["pending", "in_progress", "completed"]},
                    "activeForm": {"type": _S, "minLength": 1},
                },
                "required": ["content", "status", "activeForm"],
                "additionalProperties": False,
            },
        }),
    ]),
    ("WebSearch", "Allows the agent to search the web and use the results to inform responses.", 900, [
        ("query", _S, "The search query to use", True, {"minLength": 2}),
        ("allowed_domains", _A, "Only include search results from these domains", False, {"items": {"type": _S}}),
        ("blocked_domains", _A, "Never include search results from these domains", False, {"items": {"type": _S}}),
    ]),
    ("BashOutput", "Retrieves output from a running or completed background bash shell.", 600, [
        ("bash_id", _S, "The ID of the background shell to retrieve output from", True, {}),
        ("filter", _S, "Optional regular expression to filter the output lines", False, {}),
    ]),
    ("KillShell", "Kills a running background bash shell by its ID.", 300, [
        ("shell_id", _S, "The ID of the background shell to kill", True, {}),
    ]),
    ("SlashCommand", "Execute a slash command within the main conversation.", 1200, [
        ("command", _S, "The slash command to execute with its arguments", True, {}),
    ]),
    ("mcp__ide__getDiagnostics", "Get language diagnostics from the editor.", 300, [
        ("uri", _S, "Optional file URI to get diagnostics for", False, {}),
    ]),
    ("mcp__ide__executeCode", "Execute python code in the Jupyter kernel for the current notebook file.", 700, [
        ("code", _S, "The code to be executed on the kernel", True, {}),
    ]),
    ("mcp__github__create_issue", "Create a new issue in a GitHub repository.", 400, [
        ("owner", _S, "Repository owner", True, {}),
        ("repo", _S, "Repository name", True, {}),
        ("title", _S, "Issue title", True, {}),
        ("body", _S, "Issue body content", False, {}),
        ("labels", _A, "Labels to apply to this issue", False, {"items": {"type": _S}}),
        ("assignees", _A, "Usernames to assign to this issue", False, {"items": {"type": _S}}),
    ]),
    ("mcp__github__list_pull_requests", "List pull requests in a GitHub repository.", 400, [
        ("owner", _S, "Repository owner", True, {}),
        ("repo", _S, "Repository name", True, {}),
        ("state", _S, "Filter by state", False, {"enum": ["open", "closed", "all"]}),
        ("sort", _S, "Sort by", False, {"enum": ["created", "updated", "popularity", "long-running"]}),
        ("perPage", _I, "Results per page for pagination (max 100)", False, {"minimum": 1, "maximum": 100}),
        ("page", _I, "Page number for pagination (min 1)", False, {"minimum": 1}),
    ]),
    ("mcp__github__get_file_contents", "Get the contents of a file or directory from a GitHub repository.", 400, [
        ("owner", _S, "Repository owner (username or organization)", True, {}),
        ("repo", _S, "Repository name", True, {}),
        ("path", _S, "Path to the file or directory", True, {}),
        ("ref", _S, "Accepts optional git refs such as refs/tags/{tag}, refs/heads/{branch}", False, {}),
    ]),
    ("mcp__playwright__browser_navigate", "Navigate to a URL.", 300, [
        ("url", _S, "The URL to navigate to", True, {}),
    ]),
    ("mcp__playwright__browser_snapshot", "Capture accessibility snapshot of the current page.", 500, []),
]

assert len(_TOOLS) == 24


def _schema(params) -> dict:
    schema = {
        "type": _O,
        "properties": {name: {"type": kind, "description": text, **extra} for name, kind, text, _req, extra in params},
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    required = [name for name, _kind, _text, req, _extra in params if req]
    if required:
        schema["required"] = required
    return schema


def tools(seed: int = 24) -> list[dict]:
    """The 24 tools: {"name", "description", "schema"}, descriptions padded with usage notes."""
    text = Text(seed)
    out = []
    for name, summary, notes, params in _TOOLS:
        description = f"{summary}\n\nUsage notes:\n{text.prose(notes)}"
        out.append({"name": name, "description": description, "schema": _schema(params)})
    return out


def example_input(name: str, text: Text) -> dict:
    """Arguments an assistant might pass to ``name`` (only the tools the conversation uses)."""
    path = f"/home/dev/project/{text.ident()}/{text.ident()}.py"
    if name == "Read":
        return {"file_path": path}
    if name == "Bash":
        return {"command": f"python -m pytest tests/test_{text.ident()}.py -q", "description": text.sentence(6)}
    if name == "Grep":
        return {"pattern": text.ident(), "path": "/home/dev/project", "output_mode": "content", "-n": True}
    if name == "Edit":
        return {"file_path": path, "old_string": text.sentence(12), "new_string": text.sentence(14)}
    if name == "TodoWrite":
        return {"todos": [{"content": text.sentence(8), "status": "pending", "activeForm": text.sentence(6)} for _ in range(4)]}
    return {"path": path}
