"""AWS credentials and SigV4 signing for Bedrock requests (botocore does the cryptography)."""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError

from ...config import BedrockConfig

SERVICE = "bedrock"

# bedrock-runtime.<region>.amazonaws.com, also the FIPS and VPC endpoint forms.
_REGION_IN_HOST = re.compile(r"(?:^|\.)bedrock-runtime(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.")


class CredentialsUnavailable(Exception):
    """No AWS credentials or region could be found for a Bedrock request."""


def signing_region(config: BedrockConfig, session: botocore.session.Session | None = None) -> str | None:
    """The configured region, else the one in the endpoint's host name, else the AWS default (AWS_REGION, profile)."""
    if config.region:
        return config.region
    match = _REGION_IN_HOST.search(urlsplit(config.base_url).hostname or "")
    if match:
        return match.group(1)
    return (session or botocore.session.Session()).get_config_variable("region")


class BedrockSigner:
    """Signs requests with the key pair it is given (the instance's pool picks it) or the default AWS credential chain."""

    def __init__(self, config: BedrockConfig):
        self._config = config
        self._session: botocore.session.Session | None = None
        self._chain = None  # resolved on first use: the chain may ask the network (instance roles, SSO)
        self._region: str | None = None
        self._lock = threading.Lock()

    def sign(self, method: str, url: str, headers: dict[str, str], body: bytes,
             credentials: Credentials | None = None) -> dict[str, str]:
        """``headers`` plus X-Amz-Date, Authorization (and the session token) for exactly these bytes."""
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(credentials or self._default_credentials(), SERVICE, self._signing_region()).add_auth(request)
        return dict(request.headers.items())

    def _default_credentials(self):
        try:
            credentials = self._default_chain()
            # A frozen copy: refreshable credentials must not change between key id and secret.
            return credentials.get_frozen_credentials()
        except BotoCoreError as exc:
            raise CredentialsUnavailable(f"Bedrock: the default AWS credential chain failed: {exc}") from None

    def _default_chain(self):
        with self._lock:
            if self._chain is None:
                self._chain = self._botocore_session().get_credentials()
            if self._chain is None:
                raise CredentialsUnavailable(
                    "Bedrock: no AWS credentials: configure the provider's Bedrock access key and secret, "
                    "or the default AWS credential chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                    "AWS_PROFILE, an instance or task role)"
                )
            return self._chain

    def _signing_region(self) -> str:
        if self._region is None:
            self._region = signing_region(self._config, self._botocore_session())
        if not self._region:
            raise CredentialsUnavailable(
                "Bedrock: no AWS region: set CODER_AIBRIDGE_BEDROCK_REGION (or AWS_REGION) "
                f"for the endpoint {self._config.base_url}"
            )
        return self._region

    def _botocore_session(self) -> botocore.session.Session:
        if self._session is None:
            self._session = botocore.session.Session()
        return self._session
