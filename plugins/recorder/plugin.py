"""The recorder plugin: every record goes to the writer's queue, nothing waits for the disk."""

from __future__ import annotations

from aibridge import PluginState, hookimpl

from ..storage import CHILD, END, START
from .writer import RecordWriter

writer = PluginState("aibridge.recorder")


@hookimpl
def aibridge_startup(app, config):
    started = RecordWriter(config.database_path)
    started.start()
    writer.set(app, started)


@hookimpl
def aibridge_shutdown(app):
    started = writer.get(app)
    if started is not None:
        started.close()


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

