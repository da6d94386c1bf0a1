"""OpenAI Chat Completions (``POST /v1/chat/completions``): observe.py records, rewrite.py joins tool-loop rounds."""

from .observe import ChatCompletions

__all__ = ["ChatCompletions"]
