"""OpenAI Responses (being written)."""

from .api import Api, BadRequest


class Responses(Api):
    name = "responses"

    def check_supported(self) -> None:
        raise BadRequest("responses are not implemented yet", status=501)
