"""The recorder plugin: every record goes to the writer's queue, nothing waits for the disk."""

from __future__ import annotations

from flask import current_app

from aibridge import hookimpl

from .store import CHILD, END, START
from .writer import RecordWriter

EXTENSION = "aibridge.recorder"


@hookimpl
def aibridge_startup(app, config):
    writer = RecordWriter(config.database_path)
    writer.start()
    app.extensions[EXTENSION] = writer


@hookimpl
def aibridge_shutdown(app):
    writer = app.extensions.get(EXTENSION)
    if writer is not None:
        writer.close()


@hookimpl
def on_interception_start(interception):
    _writer().put(START, interception)


@hookimpl
def on_prompt_usage(interception, prompt):
    _writer().put(CHILD, prompt)


@hookimpl
def on_token_usage(interception, usage):
    _writer().put(CHILD, usage)


@hookimpl
def on_tool_usage(interception, tool):
    _writer().put(CHILD, tool)


@hookimpl
def on_model_thought(interception, thought):
    _writer().put(CHILD, thought)


@hookimpl
def on_interception_end(interception):
    _writer().put(END, interception)


def _writer() -> RecordWriter:
    return current_app.extensions[EXTENSION]
