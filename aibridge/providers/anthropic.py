"""Anthropic: Messages intercepted; models and token counting passed through."""

from .base import ProviderType, passthrough


class AnthropicType(ProviderType):
    type = "anthropic"
    error_shape = "anthropic"
    default_base_url = "https://api.anthropic.com"
    intercepted = {("POST", "/v1/messages"): "messages"}
    passthrough = (
        passthrough("GET", r"/v1/models(/[^/]+)?"),
        passthrough("POST", r"/v1/messages/count_tokens"),
    )

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key}
