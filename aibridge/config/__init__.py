"""Configuration: the names of the documented AI Gateway (and its former AI Bridge names), validated at startup."""

from .model import BedrockConfig, Config, ConfigError, MCPServerConfig, ProviderConfig

__all__ = ["BedrockConfig", "Config", "ConfigError", "MCPServerConfig", "ProviderConfig"]
