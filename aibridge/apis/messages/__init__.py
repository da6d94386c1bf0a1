"""Anthropic Messages (``POST /v1/messages``): observe.py records, rewrite.py joins tool-loop rounds."""

from .observe import Messages

__all__ = ["Messages"]
