"""Configuration: the names of the documented AI Bridge, validated at startup."""

from .model import BedrockConfig, Config, ConfigError, MCPServerConfig, ProviderConfig

__all__ = ["BedrockConfig", "Config", "ConfigError", "MCPServerConfig", "ProviderConfig"]
