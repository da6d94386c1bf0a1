"""Structured logging of records: one ``interception log`` line per record, for a SIEM.

Enabled by ``--aibridge-structured-logging``. Lines go through the ``aibridge.records``
logger, so they reach the same outputs as every other log line (human-readable
by default, JSON lines with ``--log-json``), with ``record_type`` and the
record's fields as extra fields. Records never carry provider keys or gateway tokens.
"""

from __future__ import annotations

import logging

from aibridge import InterceptionEnd, PluginState, hookimpl, usd_number

log = logging.getLogger("aibridge.records")

MESSAGE = "interception log"
enabled = PluginState("aibridge.structured_log")  # --aibridge-structured-logging, per app

INTERCEPTION_START_FIELDS = (
    "interception_id", "initiator_id", "initiator_username", "provider", "provider_name", "model", "client",
    "client_session_id", "user_agent", "started_at", "credential_kind", "credential_hint", "metadata",
)
# Learnt after the start (the instance and key that answered, attempts): the end line says what they became.
INTERCEPTION_END_FIELDS = ("provider_name", "model", "credential_kind", "credential_hint", "metadata")


@hookimpl
def aibridge_startup(app, config):
    enabled.set(app, bool(config.structured_logging))


@hookimpl
def on_interception_start(interception):
    if not enabled.get():
        return
    fields = interception.as_dict()
    _log(interception.record_type, {name: fields[name] for name in INTERCEPTION_START_FIELDS})


@hookimpl
def on_prompt_usage(interception, prompt):
    if enabled.get():
        _log(prompt.record_type, prompt.as_dict())


@hookimpl
def on_token_usage(interception, usage):
    if enabled.get():
        # cost_usd: the record's cost as a number of dollars for a SIEM to sum (null: unpriced, docs/cost.md)
        _log(usage.record_type, {**usage.as_dict(), "cost_usd": usd_number(usage.cost_usd_nanos)})


@hookimpl
def on_tool_usage(interception, tool):
    if enabled.get():
        _log(tool.record_type, tool.as_dict())


@hookimpl
def on_tool_result(interception, result):
    if enabled.get():
        _log(result.record_type, result.as_dict())


@hookimpl
def on_model_thought(interception, thought):
    if enabled.get():
        _log(thought.record_type, thought.as_dict())


@hookimpl
def on_interception_end(interception):
    if not enabled.get():
        return
    end = InterceptionEnd.of(interception)
    fields = interception.as_dict()
    _log(end.record_type, {**end.as_dict(), **{name: fields[name] for name in INTERCEPTION_END_FIELDS}})


def _log(record_type: str, fields: dict) -> None:
    log.info(MESSAGE, extra={"record_type": record_type, **fields})
