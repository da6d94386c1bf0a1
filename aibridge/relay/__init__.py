"""The request path: routes, body limits, the one relay loop, passthrough, interception lifecycle.

routes (which instance, authenticate) -> intercept (record, send, relay) or
passthrough; stream and blocking relay the answer; lifecycle announces the
records; clients detects the client and its session; sse splits events.
"""

from .routes import relay_blueprint

__all__ = ["relay_blueprint"]
