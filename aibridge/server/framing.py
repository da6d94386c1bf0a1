"""Reading a client's request head strictly, so that no two parsers can disagree on where a request ends.

When the gateway faces clients directly, a request whose framing is
ambiguous (Content-Length and Transfer-Encoding together, two
Content-Lengths, a folded or NUL/CR-carrying header) could be read one way
here and another way by a proxy in front or by the upstream: the classic
request-smuggling setup. Such a head is refused (400, connection closed),
as nginx does.
"""

from __future__ import annotations

import re

MAX_HEADER_LINE = 65536
MAX_HEADERS = 100

# Well-formed header lines: an RFC 9110 token, a colon, a value without NUL or CR.
_FIELD_LINE = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00\r\n]*\r?\n"
_WELL_FORMED_LINE = re.compile(_FIELD_LINE)
_WELL_FORMED_HEAD = re.compile(rb"(?:" + _FIELD_LINE + rb")*")  # one pass over the whole head
# The two headers that frame the body, read from the lower-cased head.
_FRAMING_FIELD = re.compile(rb"^(content-length|transfer-encoding):[ \t]*(.*?)[ \t]*\r?$", re.M)
_FORBIDDEN_IN_LINE = re.compile(rb"[\x00\r\n]")


class FramingError(ValueError):
    """A request head the gateway refuses: 400, then the connection is closed."""


class IncompleteHead(ConnectionError):
    """The client closed the connection before the end of the request head: nothing to answer."""


def read_header_lines(rfile) -> list[bytes]:
    """The raw header lines up to the blank line that ends the head (which is consumed)."""
    lines: list[bytes] = []
    while True:
        line = rfile.readline(MAX_HEADER_LINE + 1)
        if not line.endswith(b"\n"):
            if len(line) > MAX_HEADER_LINE:
                raise FramingError("a header line is too long")
            raise IncompleteHead("the client closed the connection inside the request head")
        if line in (b"\r\n", b"\n"):
            return lines
        if len(lines) == MAX_HEADERS:
            raise FramingError(f"more than {MAX_HEADERS} header lines")
        lines.append(line)


def check_request_line(line: bytes) -> None:
    """A request line carries no NUL and no bare CR."""
    if _FORBIDDEN_IN_LINE.search(_without_line_end(line)):
        raise FramingError("the request line contains a NUL or CR character")


def check_head(lines: list[bytes], http_version: str) -> None:
    """Refuse folded or malformed header lines and every ambiguous body framing."""
    head = b"".join(lines)
    if _WELL_FORMED_HEAD.fullmatch(head) is None:
        raise FramingError(_why_malformed(next(line for line in lines if not _WELL_FORMED_LINE.fullmatch(line))))
    lowered = head.lower()
    if b"content-length:" not in lowered and b"transfer-encoding:" not in lowered:
        return  # (most GETs): nothing frames a body
    fields = _FRAMING_FIELD.findall(lowered)
    lengths = [value for name, value in fields if name == b"content-length"]
    encodings = [value for name, value in fields if name == b"transfer-encoding"]
    if lengths and encodings:
        raise FramingError("both Content-Length and Transfer-Encoding are set")
    if len(lengths) > 1:
        raise FramingError("more than one Content-Length")
    if lengths and not lengths[0].isdigit():
        raise FramingError("Content-Length is not a number")
    if encodings:
        if http_version != "HTTP/1.1":
            raise FramingError(f"Transfer-Encoding in an {http_version} request")
        if len(encodings) > 1 or encodings[0] != b"chunked":
            raise FramingError("Transfer-Encoding other than a single chunked")


def _why_malformed(line: bytes) -> str:
    if line[:1] in (b" ", b"\t"):
        return "a header is folded over several lines (obsolete line folding)"
    if _FORBIDDEN_IN_LINE.search(_without_line_end(line)):
        return "a header contains a NUL or CR character"
    return "a header line is not `name: value`"


def _without_line_end(line: bytes) -> bytes:
    return line[:-2] if line.endswith(b"\r\n") else line.rstrip(b"\n")
