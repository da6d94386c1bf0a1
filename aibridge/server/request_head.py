"""A request's header fields as pywsgi's handler asks for them, without the email package.

pywsgi hands the head to ``http.client.parse_headers``, which builds an
``email.message.Message``: about 18 µs a request (this parse: 1.5), and about
1.5 KiB that an open stream keeps for as long as it lasts. By the time the fields
are needed, :mod:`.framing` has read and checked the head (one field per line,
no folding, no NUL or CR), so splitting each line at its first colon is the
whole parse.
"""

from __future__ import annotations


class RequestHead:
    """The fields in order, each value without the whitespace around it; names compare case-insensitively."""

    __slots__ = ("_fields", "_first")

    status = ""  # pywsgi: non-empty for a head it could not parse (never, once framing has checked it)

    def __init__(self, lines: list[bytes]):
        self._fields: list[tuple[str, str]] = []
        for line in lines:
            name, _, value = line.decode("latin-1").partition(":")
            self._fields.append((name, value.strip(" \t\r\n")))
        self._index()

    def get(self, name: str, default=None):
        """The first field called ``name``."""
        return self._first.get(name.lower(), default)

    getheader = get

    @property
    def typeheader(self) -> str | None:
        return self._first.get("content-type")

    @property
    def headers(self):
        """Each field as a ``Name: value`` line (what pywsgi builds the WSGI environ from)."""
        return (f"{name}: {value}\r\n" for name, value in self._fields)

    def fields(self) -> list[tuple[str, str]]:
        return list(self._fields)

    def __delitem__(self, name: str) -> None:
        lowered = name.lower()
        self._fields = [(key, value) for key, value in self._fields if key.lower() != lowered]
        self._index()

    def _index(self) -> None:
        first: dict[str, str] = {}
        for name, value in self._fields:
            first.setdefault(name.lower(), value)
        self._first = first
