"""OpenAI Chat Completions (being written)."""

from .api import Api, BadRequest


class ChatCompletions(Api):
    name = "chat_completions"

    def check_supported(self) -> None:
        raise BadRequest("chat completions are not implemented yet", status=501)
