"""The gateway's two name sets: AI Gateway (preferred) and AI Bridge (the original names).

The documented product was renamed from "AI Bridge" to "AI Gateway". Every
setting of the gateway itself has both names: ``--ai-gateway-retention`` and
``--aibridge-retention``, ``CODER_AI_GATEWAY_RETENTION`` and
``CODER_AIBRIDGE_RETENTION``, ``retention`` under ``ai_gateway:`` or
``aibridge:``, ``CODER_AI_GATEWAY_PROVIDER_<N>_*`` and
``CODER_AIBRIDGE_PROVIDER_<N>_*``. One setting given under both names at
once is a startup error: the user must say which one they mean.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NameSet:
    """The prefixes of one name set: flags, environment variables, the YAML group."""

    flag: str  # "ai-gateway-": the flag without its dashes starts with this
    env: str  # "CODER_AI_GATEWAY_"
    yaml: str  # "ai_gateway": the YAML group holding the settings

    def indexed(self, kind: str) -> str:
        """The prefix of indexed variables: ``CODER_AI_GATEWAY_PROVIDER_`` for kind ``PROVIDER``."""
        return f"{self.env}{kind}_"


AI_GATEWAY = NameSet(flag="ai-gateway-", env="CODER_AI_GATEWAY_", yaml="ai_gateway")
AIBRIDGE = NameSet(flag="aibridge-", env="CODER_AIBRIDGE_", yaml="aibridge")
NAME_SETS: tuple[NameSet, ...] = (AI_GATEWAY, AIBRIDGE)  # the preferred one first
PREFERRED = NAME_SETS[0]


def name_set_of(source: str) -> NameSet | None:
    """The name set a setting was given in, from its source (variable, flag or YAML key); None if neither."""
    for names in NAME_SETS:
        if source.startswith((names.env, "--" + names.flag, names.yaml + ".")):
            return names
    return None


def indexed_prefixes(kind: str) -> tuple[str, ...]:
    """``("CODER_AI_GATEWAY_PROVIDER_", "CODER_AIBRIDGE_PROVIDER_")`` for kind ``PROVIDER``."""
    return tuple(names.indexed(kind) for names in NAME_SETS)


def both_given(old: str, new: str) -> str:
    """The startup error for one setting given under both names."""
    return f"{old} and {new} are both set: set only one ({new} is the preferred name)"
