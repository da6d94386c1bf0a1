"""Anthropic Messages sent to Amazon Bedrock: model mapping, body rewrite, SigV4-signed call.

An anthropic provider instance with Bedrock settings keeps the generic
interception (records, relay); only the way its requests travel changes:
``POST {base}/model/{model id}/invoke`` (or ``/invoke-with-response-stream``),
signed for the ``bedrock`` service, answered through :class:`BedrockResponse`.
"""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import quote

from botocore.credentials import Credentials

from ...config import BedrockConfig
from ...resilience.keypool import Key, mask
from ...upstream import UNREACHABLE, Request, Transport, UpstreamError
from .response import BedrockResponse
from .signing import BedrockSigner, CredentialsUnavailable

ANTHROPIC_VERSION = "bedrock-2023-05-31"

# Anthropic API fields Bedrock refuses ("extraneous key"): the model and stream mode are in the URL.
_DROPPED_FIELDS = ("model", "stream", "metadata", "service_tier", "container")

# The actor headers (--aibridge-send-actor-headers) still go along; the client's anthropic-version,
# anthropic-beta (moved into the body) and SDK headers mean nothing to Bedrock and stay behind.
_FORWARDED = frozenset({"x-ai-bridge-actor-id", "x-ai-bridge-actor-metadata-username"})


class BedrockTransport:
    """How one anthropic instance's Messages requests reach Bedrock, through ``inner`` (the shared transport)."""

    def __init__(self, config: BedrockConfig, inner: Transport, model_map: dict[str, str] | None = None):
        self.config = config
        self.inner = inner
        self.model_map = model_map or {}
        self.signer = BedrockSigner(config)

    def model_for(self, requested: str) -> str:
        """The Bedrock model id for the client's model: MODEL_MAP's, else the small fast model for any ``haiku``."""
        mapped = self.model_map.get(requested)
        if mapped:
            return mapped
        if "haiku" in requested.lower():
            return self.config.small_fast_model
        return self.config.model

    def url(self, model: str, streaming: bool) -> str:
        # The model id is one path segment, encoded as the AWS SDKs do (ARNs carry ':' and '/').
        action = "invoke-with-response-stream" if streaming else "invoke"
        base = self.config.base_url or f"https://bedrock-runtime.{self.config.region}.amazonaws.com"
        return f"{base.rstrip('/')}/model/{quote(model, safe='')}/{action}"

    def send(self, request: Request, credentials: Credentials | None = None) -> BedrockResponse:
        """Send an Anthropic Messages request (body and forwarded client headers) to Bedrock.

        ``credentials`` is the key pair of the instance's pool this attempt uses;
        None signs with the default AWS credential chain.
        """
        body = json.loads(request.body or b"{}")
        streaming = body.get("stream") is True
        url = self.url(self.model_for(str(body.get("model", ""))), streaming)
        payload = bedrock_body(body, anthropic_betas(request.headers))
        wanted = {"Content-Type": "application/json"}
        wanted["X-Amzn-Bedrock-Accept" if streaming else "Accept"] = "application/json"
        wanted.update((name, value) for name, value in request.headers.items() if name.lower() in _FORWARDED)
        unsigned = dataclasses.replace(request, method="POST", url=url, headers=wanted, body=payload)
        try:
            signed = self.signer.sign("POST", url, wanted, payload, credentials)
        except CredentialsUnavailable as exc:
            host = unsigned.host
            raise UpstreamError(UNREACHABLE, f"the request to {host} could not be signed: {exc}", host,
                                request_sent=False) from None
        return BedrockResponse(self.inner.send(dataclasses.replace(unsigned, headers=signed)))


def bedrock_keys(config: BedrockConfig) -> list[Key]:
    """The instance's access-key pairs as its key pool's keys (shown by their masked access key ID)."""
    return [Key(Credentials(key, secret), mask(key)) for key, secret in zip(config.access_keys, config.access_key_secrets)]


def bedrock_body(request: dict, betas: list[str]) -> bytes:
    """The Messages request as Bedrock takes it: no model or stream, the Bedrock API version, betas in the body."""
    body = {key: value for key, value in request.items() if key not in _DROPPED_FIELDS}
    body["anthropic_version"] = ANTHROPIC_VERSION
    sent = body.get("anthropic_beta") or []
    merged = _unique([*(sent if isinstance(sent, list) else [sent]), *betas])
    if merged:
        body["anthropic_beta"] = merged
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def anthropic_betas(headers) -> list[str]:
    """The beta names of every ``anthropic-beta`` header (each a comma separated list)."""
    values = [value for name, value in headers.items() if name.lower() == "anthropic-beta"]
    return _unique(beta.strip() for value in values for beta in value.split(",") if beta.strip())


def _unique(items) -> list:
    return list(dict.fromkeys(items))
