"""GitHub Copilot: OpenAI-style APIs and, for Claude models, Anthropic Messages; the user's own GitHub token is the upstream credential."""

from .base import ProviderType, passthrough

# Copilot serves Anthropic Messages only under /v1 (the Copilot CLI sends Claude models there).
_MESSAGES = "/v1/messages"


class CopilotType(ProviderType):
    type = "copilot"
    default_base_url = "https://api.individual.githubcopilot.com"
    always_byok = True
    intercepted = {
        **{
            (method, prefix + path): api
            for prefix in ("", "/v1")
            for method, path, api in (("POST", "/chat/completions", "chat_completions"), ("POST", "/responses", "responses"))
        },
        ("POST", _MESSAGES): "messages",
    }
    passthrough = (passthrough("GET", r"(/v1)?/models(/[^/]+)?"),)

    def upstream_path(self, path: str) -> str:
        if path == _MESSAGES:
            return path
        return path[3:] if path.startswith("/v1/") else path
