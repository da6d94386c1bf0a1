"""``aibridge interceptions list`` and ``aibridge usage``: the audit API's answers, read from the database.

The CLI is the operator: it sees every person's interceptions.
"""

from __future__ import annotations

import contextlib
import sys

import click

import aibridge

from ..storage import ensure_tables, reading
from .filters import MAX_LIMIT, RFC3339_EXAMPLE, BadParameter, build_filter, parse_limit
from .interceptions import list_interceptions
from .output import FORMATS, INTERCEPTION_CSV_COLUMNS, Printer, interception_csv_row, usage_csv_row
from .usage import DEFAULT_GROUP_BY, GROUP_BY_CHOICES, usage_summary

_TIME_HELP = f"RFC 3339 time, e.g. {RFC3339_EXAMPLE}"


@click.group("interceptions")
def interceptions_group():
    """Recorded interceptions."""


@interceptions_group.command("list")
@click.option("--initiator", metavar="USER", help="Only this user (username or id).")
@click.option("--provider", help="Only this provider type or instance name.")
@click.option("--model", help="Only this model.")
@click.option("--client", help="Only this client, e.g. 'Claude Code'.")
@click.option("--status", help="Only interceptions that ended so: completed, failed, client_disconnected, interrupted.")
@click.option("--started-after", metavar="TIME", help=f"Started at or after this {_TIME_HELP}.")
@click.option("--started-before", metavar="TIME", help=f"Started before this {_TIME_HELP}.")
@click.option("--after-id", metavar="ID", help="Continue after this interception (the last one of a page).")
@click.option("--limit", metavar="N", default="100", show_default=True, help=f"Page size, 1 to {MAX_LIMIT}.")
@click.option("--all", "every_page", is_flag=True, help="Every matching interception (pages of 1000, --limit ignored).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True,
              help="json: as the API answers; jsonl: one interception per line; csv: one row each.")
@aibridge.config_options()
def list_command(initiator, provider, model, client, status, started_after, started_before, after_id, limit,
                 every_page, fmt, **flags):
    """Interceptions with their records (and why each one that failed did), newest first."""
    values = dict(initiator=initiator, provider=provider, model=model, client=client, status=status,
                  started_after=started_after, started_before=started_before)
    where, limit = _checked(lambda: (build_filter(values), parse_limit(limit)))
    printer = Printer(sys.stdout, fmt, INTERCEPTION_CSV_COLUMNS, interception_csv_row)
    with _reader(flags) as conn:
        if every_page:
            _print_every_page(conn, where, after_id, printer)
        else:
            printer.answer(_checked(lambda: list_interceptions(conn, where, limit, after_id)))
    printer.finish()


@click.command("usage")
@click.option("--group-by", type=click.Choice(GROUP_BY_CHOICES), default=DEFAULT_GROUP_BY, show_default=True,
              help="One line per user, model, provider, client or UTC day.")
@click.option("--started-after", metavar="TIME", help=f"Interceptions started at or after this {_TIME_HELP}.")
@click.option("--started-before", metavar="TIME", help=f"Interceptions started before this {_TIME_HELP}.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True,
              help="json: as the API answers; jsonl: one group per line; csv: one row per group.")
@aibridge.config_options()
def usage_command(group_by, started_after, started_before, fmt, **flags):
    """Interceptions and tokens (input, output, cache read, cache write) per group."""
    values = dict(started_after=started_after, started_before=started_before)
    where = _checked(lambda: build_filter(values))
    printer = Printer(sys.stdout, fmt, to_csv_row=usage_csv_row)
    with _reader(flags) as conn:
        printer.answer(usage_summary(conn, where, group_by))
    printer.finish()


def _print_every_page(conn, where, after_id, printer: Printer) -> None:
    """Follow the cursor to the last page; JSON lines and CSV are printed as pages arrive."""
    first = _checked(lambda: list_interceptions(conn, where, MAX_LIMIT, after_id))
    collected = {"count": first["count"], "results": []}
    page = first["results"]
    while page:
        if printer.fmt == "json":
            collected["results"].extend(page)
        else:
            printer.results(page)
        page = list_interceptions(conn, where, MAX_LIMIT, page[-1]["id"])["results"]
    if printer.fmt == "json":
        printer.answer(collected)


@contextlib.contextmanager
def _reader(flags):
    config = aibridge.load_config(flags)
    if not config.database_path.exists():
        aibridge.fail(f"no database at {config.database_path}: nothing has been recorded there (check --data-dir)")
    ensure_tables(config.database_path)  # a database the recorder never wrote to has no tables yet
    with reading(config.database_path) as conn:
        yield conn


def _checked(compute):
    """Run ``compute``; a bad option ends the command with one line naming it, status 2."""
    try:
        return compute()
    except BadParameter as error:
        aibridge.fail(f"--{error.field.replace('_', '-')}: {error.message}", status=2)
