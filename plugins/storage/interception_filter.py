"""Which interceptions a read is about, as a SQL condition: who started them, where they went, when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .timestamps import to_db


@dataclass(frozen=True)
class InterceptionFilter:
    """Conditions on interceptions; ``visible_to`` limits a member to their own (None: everyone's)."""

    initiator: str | None = None  # a user id or username
    provider: str | None = None  # a provider type or instance name
    model: str | None = None
    client: str | None = None
    status: str | None = None  # completed, failed, client_disconnected, interrupted
    client_session_id: str | None = None  # the client's session (Claude Code, Codex, ...)
    started_after: dt.datetime | None = None  # inclusive
    started_before: dt.datetime | None = None  # exclusive
    prompt_text: str | None = None  # in one of its prompts, ignoring the case of ASCII letters
    visible_to: str | None = None

    def where(self, alias: str = "i") -> tuple[str, dict]:
        """A SQL condition on the interceptions table (aliased ``alias``) and its parameters."""
        conditions, params = ["1 = 1"], {}
        if self.visible_to is not None:
            conditions.append(f"{alias}.initiator_id = :visible_to")
            params["visible_to"] = self.visible_to
        if self.initiator is not None:
            conditions.append(f"({alias}.initiator_id = :initiator OR {alias}.initiator_username = :initiator)")
            params["initiator"] = self.initiator
        if self.provider is not None:
            conditions.append(f"({alias}.provider = :provider OR {alias}.provider_name = :provider)")
            params["provider"] = self.provider
        for name in ("model", "client", "status", "client_session_id"):
            if getattr(self, name) is not None:
                conditions.append(f"{alias}.{name} = :{name}")
                params[name] = getattr(self, name)
        if self.started_after is not None:
            conditions.append(f"{alias}.started_at >= :started_after")
            params["started_after"] = to_db(self.started_after)
        if self.started_before is not None:
            conditions.append(f"{alias}.started_at < :started_before")
            params["started_before"] = to_db(self.started_before)
        if self.prompt_text is not None:
            # The matching prompts are found once (one pass over user_prompts), not looked up per interception.
            conditions.append(
                f"{alias}.id IN (SELECT tp.interception_id FROM user_prompts tp "
                "WHERE lower(tp.prompt) LIKE :prompt_text ESCAPE '\\')")
            params["prompt_text"] = "%" + _escaped(self.prompt_text.lower()) + "%"
        return " AND ".join(conditions), params


def _escaped(text: str) -> str:
    """``text`` matched literally by LIKE ... ESCAPE '\\' (its %, _ and \\ are not wildcards)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
