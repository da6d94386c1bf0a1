"""GitHub Copilot: OpenAI-style APIs; the user's own GitHub token is the upstream credential."""

from .base import ProviderType, passthrough


class CopilotType(ProviderType):
    type = "copilot"
    default_base_url = "https://api.individual.githubcopilot.com"
    always_byok = True
    intercepted = {
        (method, prefix + path): api
        for prefix in ("", "/v1")
        for method, path, api in (("POST", "/chat/completions", "chat_completions"), ("POST", "/responses", "responses"))
    }
    passthrough = (passthrough("GET", r"(/v1)?/models(/[^/]+)?"),)

    def upstream_path(self, path: str) -> str:
        return path[3:] if path.startswith("/v1/") else path
