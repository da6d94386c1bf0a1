"""Listing commands print a table on a terminal and JSON / JSON lines / CSV for machines; long work shows progress.

The installed ``aibridge`` script runs with its stdout (or stderr) on a real
pseudo-terminal, as a person at a terminal would see it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import subprocess

import click
import pytest
from click.testing import CliRunner
from support.terminal import run_on_terminal
from support.recorder_support import RecordingApp, make_interception, user_with_token

from aibridge.cli import build_cli
from aibridge.records import PromptUsage, TokenUsage
from aibridge.cli.output import FORMATS

LISTINGS = {
    "users list": (["users", "list"], "USERNAME"),
    "tokens list": (["tokens", "list", "alice"], "ID"),
    "plugins": (["plugins"], "PLUGIN"),
    "interceptions list": (["interceptions", "list"], "STARTED"),
    "usage": (["usage"], "USER"),
    "prices list": (["prices", "list", "--library"], "MODEL"),
    "groups list": (["groups", "list"], "GROUP"),
    "budgets list": (["budgets", "list"], "USER"),
    "prices missing": (["prices", "missing", "--all"], "MODEL"),
    # The month of i2 (an hour ago)
    "spend export": (["spend", "export", "--month",
                      (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m")], "DAY"),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Two users, a token, two interceptions of the last hours and 1203 old ones in an hour of 2024, for exports."""
    path = tmp_path_factory.mktemp("listings")
    recording = RecordingApp(path)
    alice, _ = user_with_token(recording.database_path, "alice")
    user_with_token(recording.database_path, "olivia", "owner")
    now = dt.datetime.now(dt.timezone.utc)
    i1 = make_interception("i1", initiator_id=alice, started_at=now - dt.timedelta(hours=2))
    recording.record(i1)
    # A record without tokens and without a price: it changes no sum, the costs say it is there.
    recording.notify("on_token_usage", interception=i1, usage=TokenUsage("i1", "msg_0", cost_usd_nanos=None))
    i2 = make_interception("i2", initiator_id=alice, started_at=now - dt.timedelta(hours=1), streaming=False)
    recording.record(i2)
    recording.notify("on_prompt_usage", interception=i2, prompt=PromptUsage("i2", "msg_2", "fix\nthe " + "x" * 60))
    for n in range(1203):
        started = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=n)
        recording.record(make_interception(f"old-{n:04d}", initiator_id=alice, started_at=started),
                         children=False)  # fmt: skip
    recording.wait_written()
    recording.close()
    for args in (["groups", "create", "platform"], ["groups", "add", "platform", "alice"]):
        assert cli(*args, "--data-dir", str(path)).exit_code == 0
    return path


@pytest.fixture
def environ(process_environ, data_dir):
    return {**process_environ, "CODER_DATA_DIR": str(data_dir), "COLUMNS": "200"}


@pytest.mark.parametrize("name", LISTINGS)
def test_a_table_on_a_terminal_and_json_in_a_pipe(name, aibridge_script, environ, data_dir):
    args, first_heading = LISTINGS[name]
    on_terminal = run_on_terminal([aibridge_script, *args, "--limit", "5"] if name == "interceptions list"
                                  else [aibridge_script, *args], environ)  # fmt: skip
    assert on_terminal.returncode == 0, on_terminal.piped
    headings, *rows = on_terminal.terminal.splitlines()
    assert headings.startswith(first_heading) and headings == headings.upper() and rows
    # Columns line up: every heading starts where its cells start.
    starts = [match.start() for match in re.finditer(r"(?<=  )\S", headings)]
    for row in rows:
        assert all(row[start - 2 : start] == "  " for start in starts if start < len(row)), (headings, row)

    if name != "interceptions list":  # --format table in a pipe is the same table
        assert cli(*args, "--data-dir", str(data_dir), "--format", "table").stdout == on_terminal.terminal

    piped = subprocess.run([aibridge_script, *args], env=environ, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0 and piped.stderr == ""
    assert json.loads(piped.stdout)


def cli(*args):
    return CliRunner().invoke(build_cli({}), list(args), env={}, catch_exceptions=False)


@pytest.mark.parametrize("name", LISTINGS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_listing_prints_every_format(name, fmt, data_dir):
    args, first_heading = LISTINGS[name]
    result = cli(*args, "--data-dir", str(data_dir), "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "table":
        assert out.splitlines()[0].startswith(first_heading)
    elif fmt == "json":
        assert json.loads(out)
    elif fmt == "jsonl":
        assert [json.loads(line) for line in out.splitlines()]
    else:
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows and all(None not in row for row in rows)  # as many cells as headings


def test_every_listing_command_takes_the_same_format_option():
    """Built-in and plugin listings alike: any command named list, plus usage and plugins."""

    def commands(group, path=()):
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from commands(command, (*path, name))
            else:
                yield " ".join((*path, name)), command

    found = {name: command for name, command in commands(build_cli({})) if name.endswith("list") or name in LISTINGS}
    assert set(found) == set(LISTINGS)
    for name, command in found.items():
        [option] = [param for param in command.params if "--format" in getattr(param, "opts", ())]
        assert tuple(option.type.choices) == FORMATS and option.default is None, name


def test_csv_booleans_are_true_and_false(data_dir):
    rows = list(csv.DictReader(io.StringIO(cli("interceptions", "list", "--data-dir", str(data_dir), "--format", "csv",
                                               "--started-after", "1d").stdout)))  # fmt: skip
    assert [(row["id"], row["streaming"]) for row in rows] == [("i2", "false"), ("i1", "true")]
    plugins = cli("plugins", "--data-dir", str(data_dir), "--format", "csv", "--aibridge-disable-plugins", "metrics")
    enabled = {row["name"]: row["enabled"] for row in csv.DictReader(io.StringIO(plugins.stdout))}
    assert enabled["recorder"] == "true" and enabled["metrics"] == "false"


def test_the_usage_table_ends_with_the_totals(data_dir):
    out = cli("usage", "--data-dir", str(data_dir), "--group-by", "model", "--format", "table").stdout
    headings, model, total = out.splitlines()
    assert headings.split() == ["MODEL", "INTERCEPTIONS", "INPUT", "OUTPUT", "CACHE", "READ", "CACHE", "WRITE",
                                "COST", "USD", "UNPRICED"]
    # Two records of 417 021 nano-dollars and one unpriced: the priced part, marked as a lower bound.
    assert model.split() == ["claude-sonnet-4-6", "1205", "200", "40", "10", "14", "0.000834+?", "1"]
    assert total.split() == ["total", "1205", "200", "40", "10", "14", "0.000834+?", "1"]


def test_an_interceptions_table_keeps_each_row_on_one_line(data_dir):
    out = cli("interceptions", "list", "--data-dir", str(data_dir), "--format", "table", "--limit", "2").stdout
    headings, *rows = out.splitlines()
    assert headings.split() == ["STARTED", "USER", "PROVIDER", "MODEL", "CLIENT", "STATUS", "IN", "OUT", "COST", "USD",
                                "PROMPT", "ID"]
    assert [row.split()[2:5] for row in rows] == [["UTC", "alice", "anthropic"], ["UTC", "alice", "anthropic"]]
    assert rows[0].endswith(" i2") and rows[1].endswith(" i1")
    # i2's prompts ("prompt of i2", then "fix\nthe xxx...") in one cell of 40 characters, cut with "…"
    cell = ("prompt of i2 fix the " + "x" * 60)[:39] + "…"
    assert rows[0].endswith(f" {cell}  i2")
    assert "completed" in rows[0]
    assert " 0.000417  " in rows[0] and " 0.000417+?  " in rows[1]  # i1 has an unpriced record too


# Progress


@pytest.fixture
def purgeable(environ, data_dir, tmp_path):
    """The data copied (purging leaves the module's alone), with a retention of 30 days: 2024 is past it."""
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    return {**environ, "CODER_DATA_DIR": str(copy), "CODER_AIBRIDGE_RETENTION": "30d"}


def test_purge_shows_progress_on_a_terminal_and_clears_it(aibridge_script, purgeable):
    ran = run_on_terminal([aibridge_script, "retention", "purge"], purgeable, stream="stderr")
    assert ran.returncode == 0, ran.terminal
    assert re.search(r"purging: \d+/1203 interceptions \(\d+%\)", ran.terminal)
    assert ran.terminal.endswith("\r\x1b[K")  # the line is cleared: the result stands alone
    assert ran.piped.startswith("removed ") and "(interceptions 1203," in ran.piped


def test_purge_in_a_pipe_is_silent_unless_asked(aibridge_script, purgeable):
    quiet = run_on_terminal([aibridge_script, "retention", "purge", "--dry-run"], purgeable)
    assert quiet.returncode == 0 and quiet.piped == ""  # stderr, a pipe here, gets nothing
    forced = run_on_terminal([aibridge_script, "retention", "purge", "--progress"], purgeable)
    assert forced.returncode == 0
    assert forced.piped.splitlines() == ["purging: 0/1203 interceptions (0%)",
                                         "purging: 1000/1203 interceptions (83%)",
                                         "purging: 1203/1203 interceptions (100%)"]


def test_an_export_of_every_page_shows_progress(aibridge_script, environ):
    ran = run_on_terminal([aibridge_script, "interceptions", "list", "--all", "--format", "jsonl"], environ,
                          stream="stderr")  # fmt: skip
    assert ran.returncode == 0
    assert len(ran.piped.splitlines()) == 1205
    assert re.search(r"reading: \d+/1205 interceptions", ran.terminal) and ran.terminal.endswith("\r\x1b[K")
    forced = run_on_terminal([aibridge_script, "interceptions", "list", "--all", "--format", "csv", "--progress"],
                             environ)  # fmt: skip
    assert len(list(csv.reader(io.StringIO(forced.terminal)))) == 1206  # the header and the rows: progress went to stderr
    assert forced.piped.splitlines() == ["reading: 0/1205 interceptions (0%)", "reading: 1000/1205 interceptions (82%)",
                                         "reading: 1205/1205 interceptions (100%)"]


def test_usage_says_what_it_sums_on_a_terminal(aibridge_script, environ):
    ran = run_on_terminal([aibridge_script, "usage"], environ, stream="stderr")
    assert ran.returncode == 0 and json.loads(ran.piped)["totals"]["interceptions"] == 1205
    assert "summing usage of 1205 interceptions…" in ran.terminal
