"""Environment variables with a gateway prefix that name no setting: a startup warning, never an error.

``CODER_AIBRIDGE_*`` and ``CODER_AI_GATEWAY_*`` variables may be meant for
other Coder components sharing the environment, so they do not stop the
gateway; but a typo (``CODER_AIBRIDGE_ANTROPIC_KEY``) must not go unnoticed.
The indexed variables (``..._PROVIDER_<N>_*``, ``..._MCP_SERVER_<N>_*``) are
not checked here: their own validation refuses unknown keys.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from . import mcp, providers
from .names import NAME_SETS
from .options import OPTIONS

_INDEX = re.compile(r"_(\d+)_")
_INDEXED = ((providers.ENV_PREFIXES, providers.KEYS), (mcp.ENV_PREFIXES, mcp.KEYS))


def unknown_variable_warnings(environ: Mapping[str, str]) -> tuple[str, ...]:
    """One warning per gateway-prefixed variable that names no setting, naming the closest one."""
    known = {spelling.env for opt in OPTIONS for spelling in opt.spellings}
    indexed = tuple(prefix for prefixes, _ in _INDEXED for prefix in prefixes)
    warnings = []
    for variable in sorted(environ):
        names = next((names for names in NAME_SETS if variable.startswith(names.env)), None)
        if names is None or variable in known or variable.startswith(indexed):
            continue
        close = _closest(variable, names.env, known)
        hint = f"did you mean {close}?" if close else "it may be meant for another Coder component"
        warnings.append(f"{variable} names no setting of this gateway and is ignored ({hint})")
    return tuple(warnings)


def _closest(variable: str, prefix: str, known: set[str]) -> str | None:
    """The setting of the same name set whose name (after the prefix) is closest, if any is close."""
    index = _INDEX.search(variable)
    number = index.group(1) if index else "0"
    candidates = [name for name in known if name.startswith(prefix)]
    candidates += [
        f"{indexed}{number}_{key}"
        for prefixes, keys in _INDEXED
        for indexed in prefixes
        if indexed.startswith(prefix)
        for key in keys
    ]
    suffixes = {name.removeprefix(prefix): name for name in candidates}
    close = difflib.get_close_matches(variable.removeprefix(prefix), list(suffixes), n=1)
    return suffixes[close[0]] if close else None
