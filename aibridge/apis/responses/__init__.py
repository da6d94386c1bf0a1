"""OpenAI Responses (``POST /v1/responses``): observe.py records, rewrite.py joins tool-loop rounds."""

from .observe import Responses

__all__ = ["Responses"]
