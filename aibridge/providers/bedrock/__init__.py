"""Amazon Bedrock as the way an anthropic instance's Messages requests travel.

transport (model mapping, body rewrite, signed call), signing (AWS credentials,
SigV4), response (the answer as Anthropic's), eventstream (AWS binary events to
SSE), errors (Bedrock errors in Anthropic's shape).
"""

from .transport import BedrockTransport, bedrock_keys

__all__ = ["BedrockTransport", "bedrock_keys"]
