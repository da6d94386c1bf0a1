"""SQL written once for both databases: SQLite's placeholders (``?``, ``:name``) turned into psycopg's."""

from __future__ import annotations

import functools
import re

# String literals and quoted names keep their question marks and colons; a cast (``::text``) is no placeholder.
_TOKENS = re.compile(r"""('(?:[^']|'')*')|("(?:[^"]|"")*")|(::)|(\?)|(?<![:\w]):([A-Za-z_]\w*)|(%)""")


@functools.lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``?`` becomes ``%s``, ``:name`` becomes ``%(name)s``, and a literal ``%`` becomes ``%%``."""
    return _TOKENS.sub(_replace, sql)


def _replace(match: re.Match) -> str:
    literal, quoted_name, cast, question_mark, name, _percent = match.groups()
    if literal or quoted_name:
        return match.group(0).replace("%", "%%")  # psycopg reads placeholders inside quotes too
    if cast:
        return cast
    if question_mark:
        return "%s"
    if name:
        return f"%({name})s"
    return "%%"
