"""Renaming the model of a request body for an instance whose MODEL_MAP says so."""

from __future__ import annotations

import json


def with_model(body: bytes, model: str) -> bytes:
    """``body`` (a JSON object) with its ``model`` replaced; the other members keep their values and order."""
    request = json.loads(body)
    request["model"] = model
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()
