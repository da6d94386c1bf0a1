"""OpenAI: Chat Completions and Responses intercepted; models, stored responses and conversations passed through."""

from .base import ProviderType, passthrough


class OpenAIType(ProviderType):
    type = "openai"
    default_base_url = "https://api.openai.com/v1"
    intercepted = {
        ("POST", "/v1/chat/completions"): "chat_completions",
        ("POST", "/v1/responses"): "responses",
    }
    passthrough = (
        passthrough("GET", r"/v1/models(/[^/]+)?"),
        # Not POST: POST /v1/responses/compact runs the model, and that must not go unrecorded.
        passthrough("GET DELETE", r"/v1/responses/[^/]+(/.*)?"),
        passthrough("GET POST DELETE", r"/v1/conversations(/.*)?"),
    )

    def upstream_path(self, path: str) -> str:
        # The base URL already ends in /v1 (as OpenAI's and Azure's do).
        return path[3:] if path.startswith("/v1/") else path
