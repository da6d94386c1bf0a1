"""Gateway tokens: where clients put them, the built-in token store that checks them, and auth refusals."""

from __future__ import annotations

from .. import hookimpl
from ..errors import retry_after_header
from .tokens import UNAVAILABLE

GOVERNANCE_HEADER = "X-Coder-AI-Governance-Token"
# Where the token store leaves why it refused a request (a TokenCheck), for the one log line about it.
REFUSAL_KEY = "aibridge.auth.refusal"


def gateway_token(request) -> str | None:
    """The person's gateway token from the headers clients use (spec: authentication)."""
    governance = request.headers.get(GOVERNANCE_HEADER)
    if governance:
        return governance
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-Api-Key") or request.headers.get("Coder-Session-Token") or None


def is_byok(request) -> bool:
    """The client sent its own provider credential next to a governance token."""
    return bool(request.headers.get(GOVERNANCE_HEADER))


class AuthError(Exception):
    """A request that is neither authenticated nor refused with 401: answered ``status`` with Retry-After."""

    status = 500

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        return retry_after_header(self.retry_after)


class AuthLimited(AuthError):
    """The client's address is over the limit of failed authentications."""

    status = 429


class AuthUnavailable(AuthError):
    """The token could not be checked in time (the database cannot be read)."""

    status = 503


class TokenStoreAuth:
    """The last word on authentication: tokens issued by ``aibridge tokens create``, checked from a cache."""

    def __init__(self, database):
        from ..db import open_database
        from .token_cache import TokenCache

        open_database(database).close()  # creates and migrates the schema
        self.cache = TokenCache(database)
        self.cache.start()

    @hookimpl(trylast=True)
    def aibridge_authenticate(self, request):
        check = self.cache.check(gateway_token(request))
        if check.reason == UNAVAILABLE:
            raise AuthUnavailable("the gateway cannot check tokens right now; retry shortly", retry_after=5)
        if check.actor is None:
            request.environ[REFUSAL_KEY] = check
        return check.actor

    def cached_actor(self, request):
        """The Actor of a valid token seen before, from memory only; None otherwise."""
        check = self.cache.cached_check(gateway_token(request))
        return check.actor if check is not None else None

    @hookimpl
    def aibridge_shutdown(self, app):
        self.cache.stop()
