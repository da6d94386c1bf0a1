"""Provider types (anthropic, openai, copilot) and their configured instances."""

from ..config import ProviderConfig
from ..upstream import Transport
from .anthropic import AnthropicType
from .base import Provider, ProviderType, Route
from .copilot import CopilotType
from .openai import OpenAIType

PROVIDER_TYPES: dict[str, ProviderType] = {
    kind.type: kind for kind in (AnthropicType(), OpenAIType(), CopilotType())
}


def build_provider(config: ProviderConfig, upstream: Transport, breakers=None, listener=None) -> Provider:
    """The instance ``config`` describes; its traffic goes through ``upstream`` (shared by every instance).

    ``breakers`` (BreakerSettings) gives it circuit breakers; ``listener`` hears its keys' and breakers' changes.
    """
    return Provider(config, PROVIDER_TYPES[config.type], upstream, breakers, listener)


__all__ = ["PROVIDER_TYPES", "Provider", "ProviderType", "Route", "build_provider"]
