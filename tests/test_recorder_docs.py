"""docs/recording.md matches the code: the schema, the log line fields, the filters and the CLI options."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from support.recorder_support import RecordingApp, make_interception

from aibridge.config import Config
from aibridge.logs import setup_logging
from aibridge_plugins.audit.cli import list_command, usage_command
from aibridge_plugins.audit.usage import GROUP_BY_CHOICES
from aibridge_plugins.storage.filters import FILTER_KEYS
from aibridge_plugins.storage.schema_doc import current_section, main, schema_section
from aibridge_plugins.retention.cli import purge_command

DOC = Path(__file__).parent.parent / "docs" / "recording.md"


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_schema_section_is_generated_from_the_migrations():
    assert current_section(doc_text()) == schema_section(), (
        "docs/recording.md is out of date: run python -m aibridge_plugins.storage.schema_doc --write docs/recording.md")


def test_the_generator_rewrites_only_its_section(tmp_path):
    stale = tmp_path / "recording.md"
    text = doc_text()
    stale.write_text(text.replace('"prompt" TEXT,', '"prompt" BLOB,'), encoding="utf-8")
    assert main(["--write", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text


def test_the_sample_log_lines_have_the_fields_the_plugin_logs(tmp_path):
    json_log = tmp_path / "json.log"
    recording = RecordingApp(tmp_path / "data", structured_logging=True, log_human="", log_json=str(json_log))
    level = logging.getLogger().level
    setup_logging(recording.config)
    try:
        recording.record(make_interception("int-doc"))
    finally:
        recording.close()
        setup_logging(Config(log_human="", log_json=""))
        logging.getLogger().setLevel(level)
    logged = {line["record_type"]: set(line) for line in map(json.loads, json_log.read_text().splitlines())
              if line.get("message") == "interception log"}
    samples = [json.loads(line) for line in re.findall(r'^(\{"time".*"message": "interception log".*\})$',
                                                         doc_text(), re.MULTILINE)]
    assert {sample["record_type"] for sample in samples} == set(logged)
    for sample in samples:  # a record type may have several samples (an interception that completed, one that failed)
        assert set(sample) == logged[sample["record_type"]], sample["record_type"]


def test_every_filter_group_and_cli_option_is_documented():
    text = doc_text()
    for key in FILTER_KEYS:
        assert f"`{key}:" in text, key
    for group in GROUP_BY_CHOICES:
        assert f"`{group}`" in text, group
    for command in (list_command, usage_command, purge_command):
        for param in command.params:
            for flag in param.opts:
                assert flag in text, flag
