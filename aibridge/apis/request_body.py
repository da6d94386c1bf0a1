"""The parts of a request body the gateway reads, decoded once and no further than it needs.

A coding agent's request runs to hundreds of KiB, nearly all of it the
conversation so far, and goes upstream as sent. The gateway reads a few
top-level fields (model, stream, the session metadata, tools when it injects
some) and the last turns of ``messages`` / ``input`` (the recording rules of
prompts.py and tool_results.py look back only to the model's last turn).
msgspec decodes the body once into a struct that names those fields: every
other member is checked as JSON and skipped, never built into Python objects;
each field stays raw bytes until it is asked for; the conversation comes back
as a list of raw entries, each decoded on its first use, from the end.

The fast decoder accepts strict JSON only. A body it refuses is decoded again
by the standard json module, so the gateway accepts and refuses exactly what
that module does (NaN, lone surrogate escapes, a byte-order mark or UTF-16 are
accepted; a body json refuses gets json's message). One difference remains:
invalid UTF-8 is found only in what the gateway reads (the fields above and
the last turns); elsewhere in the body it goes upstream as sent and the
provider answers it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, Union

import msgspec


class BadRequest(Exception):
    """The client's request cannot be sent upstream; ``status`` and message go back in the API's shape."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# A conversation field: usually a list (kept as raw entries); any other JSON value is decoded as it is.
_CONVERSATION = Union[list[msgspec.Raw], str, dict[str, Any], int, float, bool, None]
_ABSENT = msgspec.UNSET
_EMPTY = msgspec.Raw()  # the default of a raw field: the member is not in the body
# What the fast decoder raises for a body it refuses (msgspec 0.18 raises UnicodeDecodeError for bad UTF-8).
_REFUSED = (msgspec.MsgspecError, ValueError)


@functools.cache
def _decoder(fields: tuple[str, ...], conversation: str) -> msgspec.json.Decoder:
    members = [(name, msgspec.Raw, _EMPTY) for name in fields]
    members.append((conversation, Union[_CONVERSATION, msgspec.UnsetType], _ABSENT))
    return msgspec.json.Decoder(msgspec.defstruct("ReadFields", members))


class RequestBody:
    """The top-level fields an API reads, with a dict's ``get`` and ``in``.

    ``fields`` are the members read as values; ``conversation`` is the member
    holding the turns (``messages`` or ``input``), whose list comes back as
    :class:`Entries` (or a plain list, when the standard module read the body). Asking for a member that is neither is a mistake in the
    caller (KeyError): it was skipped, not read.
    """

    def __init__(self, raw: bytes, fields: tuple[str, ...], conversation: str):
        self.raw = raw
        self._names = frozenset((*fields, conversation))
        self._conversation = conversation
        self._values: dict[str, Any] = {}
        self._whole: dict | None = None
        try:
            self._read = _decoder(fields, conversation).decode(raw)
        except RecursionError:
            raise BadRequest("request body is nested too deeply") from None
        except _REFUSED:
            # Not strict JSON, or not the shapes above: the standard module decides, as it always did.
            self._read = None
            self._whole = _standard_object(raw)

    def get(self, name: str, default=None):
        """The member's value, or ``default`` when the body has none.

        Raises BadRequest when the value is not valid JSON after all (invalid UTF-8).
        """
        if name not in self._names:
            raise KeyError(f"{name!r} is not a field this API reads from the request body")
        if name not in self._values:
            self._values[name] = self._decoded(name)
        value = self._values[name]
        return default if value is _ABSENT else value

    def __contains__(self, name: str) -> bool:
        return self.get(name, _ABSENT) is not _ABSENT

    def whole(self) -> dict:
        """The whole body decoded (for the rare request the gateway must rewrite)."""
        if self._whole is None:
            self._whole = decode_value(self.raw)
        return self._whole

    def _decoded(self, name: str):
        if self._read is None:  # decoded whole by the standard module
            return self._whole.get(name, _ABSENT)
        value = getattr(self._read, name)
        if name == self._conversation:
            return Entries(value) if isinstance(value, list) else value
        return decode_value(value) if len(value) else _ABSENT


class Entries(Sequence):
    """The entries of ``messages`` / ``input``, each decoded on its first use (``reversed`` reads from the end)."""

    def __init__(self, raw_entries: list):
        self._entries = raw_entries
        self._decoded: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int):
        index = range(len(self._entries))[index]  # negative indices count from the end; IndexError past it
        if index not in self._decoded:
            self._decoded[index] = decode_value(self._entries[index])
        return self._decoded[index]


def decode_value(raw) -> Any:
    """One JSON value (bytes or a raw field); the standard module decides what the fast decoder refuses."""
    try:
        return msgspec.json.decode(raw)
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    except _REFUSED:
        return _standard(bytes(raw))


def _standard(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None


def _standard_object(data: bytes) -> dict:
    value = _standard(data)
    if not isinstance(value, dict):
        raise BadRequest("request body must be a JSON object")
    return value
