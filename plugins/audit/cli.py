"""``aibridge interceptions list`` and ``aibridge usage``: the audit API's answers, read from the database.

The CLI is the operator: it sees every person's interceptions.
"""

from __future__ import annotations

import contextlib

import click

import aibridge

from ..storage import count_interceptions, ensure_tables, is_postgres, reading
from ..storage import MAX_LIMIT, STATUSES, BadParameter, UnknownInitiator, build_filter, parse_limit
from .interceptions import list_interceptions
from .output import (
    INTERCEPTION_COLUMNS,
    INTERCEPTION_CSV_COLUMNS,
    interception_csv_row,
    usage_columns,
    usage_csv_row,
    usage_total_row,
)
from .usage import DEFAULT_GROUP_BY, GROUP_BY_CHOICES, usage_summary

_TIME_HELP = "a duration before now (7d, 24h, 90m), a UTC day (2026-12-01) or an RFC 3339 time"


@click.group("interceptions")
def interceptions_group():
    """Recorded interceptions."""


@interceptions_group.command("list")
@click.option("--initiator", metavar="USER", help="Only this user (username or id); an unknown one is an error.")
@click.option("--provider", help="Only this provider type or instance name.")
@click.option("--model", help="Only this model.")
@click.option("--client", help="Only this client, e.g. 'Claude Code'.")
@click.option("--status", help=f"Only interceptions that ended so: {', '.join(STATUSES)}.")
@click.option("--session", metavar="ID", help="Only this client session (Claude Code's, Codex's ... session id).")
@click.option("--started-after", metavar="TIME", help=f"Started at or after this: {_TIME_HELP}.")
@click.option("--started-before", metavar="TIME", help=f"Started before this: {_TIME_HELP}.")
@click.option("--after-id", metavar="ID", help="Continue after this interception (the last one of a page).")
@click.option("--limit", metavar="N", default="100", show_default=True, help=f"Page size, 1 to {MAX_LIMIT}.")
@click.option("--all", "every_page", is_flag=True, help="Every matching interception (pages of 1000, --limit ignored).")
@aibridge.format_option("json: as the API answers; jsonl: one interception per line; csv: one row each.")
@aibridge.progress_option()
@aibridge.config_options()
def list_command(initiator, provider, model, client, status, session, started_after, started_before, after_id,
                 limit, every_page, fmt, progress, **flags):  # fmt: skip
    """Interceptions with their records (and why each one that failed did), newest first."""
    values = dict(initiator=initiator, provider=provider, model=model, client=client, status=status,
                  session=session, started_after=started_after, started_before=started_before)
    where, limit = _checked(lambda: (build_filter(values), parse_limit(limit)))
    listing = aibridge.Listing(fmt, INTERCEPTION_COLUMNS, csv_row=interception_csv_row,
                               csv_columns=INTERCEPTION_CSV_COLUMNS)
    with _reader(flags) as db:
        if every_page:
            count = _every_page(db, where, after_id, listing, progress)
        else:
            page = _checked(lambda: list_interceptions(db, where, limit, after_id))
            listing.add(page["results"])
            count = page["count"]
    listing.finish({"count": count})


@click.command("usage")
@click.option("--group-by", type=click.Choice(GROUP_BY_CHOICES), default=DEFAULT_GROUP_BY, show_default=True,
              help="One line per user, model, provider, client or UTC day.")
@click.option("--started-after", metavar="TIME", help=f"Interceptions started at or after this: {_TIME_HELP}.")
@click.option("--started-before", metavar="TIME", help=f"Interceptions started before this: {_TIME_HELP}.")
@aibridge.format_option("json: as the API answers; jsonl: one group per line; csv: one row per group.")
@aibridge.progress_option()
@aibridge.config_options()
def usage_command(group_by, started_after, started_before, fmt, progress, **flags):
    """Interceptions and tokens (input, output, cache read, cache write) per group."""
    values = dict(started_after=started_after, started_before=started_before)
    where = _checked(lambda: build_filter(values))
    listing = aibridge.Listing(fmt, usage_columns(group_by), csv_row=usage_csv_row)
    with _reader(flags) as db:
        # One query does the work: the line says how much it is summing while it runs.
        with aibridge.Progress(f"summing usage of {count_interceptions(db, where)} interceptions", show=progress):
            answer = usage_summary(db, where, group_by)
    listing.add(answer["results"])
    listing.finish({"group_by": group_by, "totals": answer["totals"]}, footer=usage_total_row(answer["totals"]))


def _every_page(db, where, after_id, listing, show_progress) -> int:
    """Follow the cursor to the last page, adding each page as it arrives; returns the count of matches."""
    first = _checked(lambda: list_interceptions(db, where, MAX_LIMIT, after_id))
    page = first["results"]
    with aibridge.Progress("reading", total=first["count"], unit="interceptions", show=show_progress) as progress:
        while page:
            listing.add(page)
            progress.advance(len(page))
            page = list_interceptions(db, where, MAX_LIMIT, page[-1]["id"])["results"]
    return first["count"]


@contextlib.contextmanager
def _reader(flags):
    config = aibridge.load_config(flags)
    if not is_postgres(config.database) and not config.database_path.exists():
        aibridge.fail(f"no database at {config.database_path}: nothing has been recorded there (check --data-dir)")
    ensure_tables(config.database)  # a database the recorder never wrote to has no tables yet
    with reading(config.database) as db:
        yield db


def _checked(compute):
    """Run ``compute``; a bad option ends the command with one line naming it (status 2, an unknown user 1)."""
    try:
        return compute()
    except BadParameter as error:
        status = 1 if isinstance(error, UnknownInitiator) else 2
        aibridge.fail(f"--{error.field.replace('_', '-')}: {error.message}", status=status)
