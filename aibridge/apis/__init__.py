"""The intercepted APIs, by the name provider types use for them in their routes."""

from .base import Api, BadRequest
from .chat import ChatCompletions
from .messages import Messages
from .responses import Responses

API_CLASSES: dict[str, type[Api]] = {api.name: api for api in (Messages, ChatCompletions, Responses)}

__all__ = ["API_CLASSES", "Api", "BadRequest"]
