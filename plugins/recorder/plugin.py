"""The recorder plugin: every record goes to the writer's queue, nothing waits for the disk."""

from __future__ import annotations

import logging

import aibridge
from aibridge import Measurement, PluginState, Refusal, hookimpl

from . import hookspecs
from ..storage import CHILD, END, START
from ..storage.schema import aibridge_migrations  # noqa: F401 - the record tables' hook
from .writer import RecordWriter

writer = PluginState("aibridge.recorder")
log = logging.getLogger("aibridge.recorder")

RETRY_AFTER_SECONDS = 10


@hookimpl
def aibridge_startup(app, config):
    started = RecordWriter(config.database, config.spool_path, data_dir=config.data_dir,
                           overflow=config.recorder_overflow, memory_limit=config.recorder_memory,
                           flush_timeout=config.shutdown_grace, instance_timeout=config.postgres_instance_timeout)
    started.start()
    with app.app_context():
        started.on_written = _WrittenNotice(app, aibridge.hooks())
    writer.set(app, started)


@hookimpl
def aibridge_add_hookspecs(pm):
    pm.add_hookspecs(hookspecs)


class _WrittenNotice:
    """From the writer thread: ``on_records_written`` is called on the app's thread, in the app's context."""

    def __init__(self, app, relay):
        self.app = app
        self.relay = relay
        self.app_thread = aibridge.AppThread()

    def wanted(self) -> bool:
        """Whether a plugin implements the hook now (plugins may register theirs at startup, after ours)."""
        return bool(self.relay.on_records_written.get_hookimpls())

    def __call__(self, interception_ids, rows, started_at, duration_ms, stored):
        self.app_thread.call(self._announce, interception_ids, rows, started_at, duration_ms, stored)

    def _announce(self, interception_ids, rows, started_at, duration_ms, stored):
        try:
            with self.app.app_context():
                self.relay.on_records_written(interception_ids=interception_ids, rows=rows, started_at=started_at,
                                              duration_ms=duration_ms, stored=stored)
        except Exception:
            log.exception("a plugin failed in on_records_written")


@hookimpl
def aibridge_shutdown(app):
    started = writer.get(app)
    if started is not None:
        started.close()


@hookimpl
def aibridge_refuse_interception(request, actor):
    running = writer.get()
    if running is None or running.admits():
        return None
    return Refusal(503, "the gateway cannot record requests right now (its database and its spool refuse writes); "
                        "retry later", retry_after=RETRY_AFTER_SECONDS)


@hookimpl
def aibridge_measurements(app):
    running = writer.get(app)
    if running is None:
        return None
    return [
        Measurement("recorder_backlog_records", running.in_memory, "Records waiting for the database, by where "
                    "they wait.", labels={"where": "memory"}),
        Measurement("recorder_backlog_records", running.in_spool, "Records waiting for the database, by where "
                    "they wait.", labels={"where": "spool"}),
        Measurement("recorder_store_up", int(running.store_up), "1 while the database takes records, 0 while "
                    "the recorder keeps them for later.", processes="min"),
        Measurement("recorder_records_written_total", running.written, "Records written to the database.",
                    kind="counter"),
        Measurement("recorder_records_lost_total", running.lost, "Records not recorded: refused by the database, "
                    "dropped with --aibridge-recorder-overflow relay, or unwritable at shutdown (each logged).",
                    kind="counter"),
        Measurement("recorder_refused_interceptions_total", running.refused_interceptions, "Intercepted requests answered "
                    "503 because nothing could keep their records.", kind="counter"),
    ]


@hookimpl
def aibridge_readiness(app):
    running = writer.get(app)
    if running is None:
        return None
    return {"name": "recorder", "ready": running.store_up and not running.refusing,
            "store": "up" if running.store_up else "down",
            "backlog": {"memory": running.in_memory, "spool": running.in_spool}}


@hookimpl
def on_interception_start(interception):
    writer.get().put(START, interception)


@hookimpl
def on_prompt_usage(interception, prompt):
    writer.get().put(CHILD, prompt)


@hookimpl
def on_token_usage(interception, usage):
    writer.get().put(CHILD, usage)


@hookimpl
def on_tool_usage(interception, tool):
    writer.get().put(CHILD, tool)


@hookimpl
def on_tool_result(interception, result):
    writer.get().put(CHILD, result)


@hookimpl
def on_model_thought(interception, thought):
    writer.get().put(CHILD, thought)


@hookimpl
def on_interception_end(interception):
    writer.get().put(END, interception)
