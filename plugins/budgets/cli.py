"""``aibridge groups ...`` and ``aibridge budgets ...``: the groups people belong to, and their monthly budgets."""

from __future__ import annotations

import contextlib

import click

import aibridge

from .money import dollars_text, nanos_of_usd, percent_used, usd, usd_text
from .month import month_key, reset_text, utcnow
from .store import BudgetError, BudgetStore


@contextlib.contextmanager
def budget_store(flags):
    """The store of the configured database; a BudgetError ends the command with its message."""
    config = aibridge.load_config(flags)
    store = BudgetStore.open(config.database)
    try:
        yield store
    except BudgetError as error:
        aibridge.fail(str(error))
    finally:
        store.close()


@click.group("groups")
def groups_group():
    """Groups of people, for budgets that apply to each member."""


@groups_group.command("create")
@click.argument("name")
@aibridge.config_options()
def groups_create(name, **flags):
    """Create a group."""
    with budget_store(flags) as store:
        store.create_group(name)
    click.echo(f"created group {name}")


@groups_group.command("delete")
@click.argument("name")
@aibridge.config_options()
def groups_delete(name, **flags):
    """Delete a group and its budget (its members keep their own budgets and the default)."""
    with budget_store(flags) as store:
        store.delete_group(name)
    click.echo(f"deleted group {name}")


@groups_group.command("add")
@click.argument("group")
@click.argument("username")
@aibridge.config_options()
def groups_add(group, username, **flags):
    """Add a user to a group."""
    with budget_store(flags) as store:
        store.add_member(group, username)
    click.echo(f"added {username} to group {group}")


@groups_group.command("remove")
@click.argument("group")
@click.argument("username")
@aibridge.config_options()
def groups_remove(group, username, **flags):
    """Remove a user from a group."""
    with budget_store(flags) as store:
        store.remove_member(group, username)
    click.echo(f"removed {username} from group {group}")


GROUP_COLUMNS = (aibridge.Column("GROUP", "name"), aibridge.Column("MONTHLY BUDGET", lambda r: dollars_text(r["monthly_usd"])),
                 aibridge.Column("MEMBERS", "members", max_width=80))


@groups_group.command("list")
@aibridge.format_option("jsonl: one group per line; csv: one row each (members separated by spaces).")
@aibridge.config_options()
def groups_list(fmt, **flags):
    """List groups, their members and their budgets."""
    with budget_store(flags) as store:
        groups = store.groups()
    listing = aibridge.Listing(fmt, GROUP_COLUMNS, csv_row=_group_csv, csv_columns=("name", "monthly_usd", "members"))
    listing.add({"name": g["name"], "members": g["members"],
                 "monthly_usd": None if g["monthly_usd_nanos"] is None else usd(g["monthly_usd_nanos"])}
                for g in groups)
    listing.finish()


def _group_csv(result: dict) -> dict:
    return {"name": result["name"], "monthly_usd": result["monthly_usd"], "members": " ".join(result["members"])}


@click.group("budgets")
def budgets_group():
    """Monthly budgets in US dollars, per user, per group (each member) or by default (docs/cost.md)."""


def whose_budget(function):
    """The options naming whose budget: --user, --group or --default (exactly one)."""
    function = click.option("--default", "default", is_flag=True, help="The budget of everyone.")(function)
    function = click.option("--group", "group", metavar="GROUP", help="Each member's budget.")(function)
    return click.option("--user", "user", metavar="USERNAME", help="One person's own budget.")(function)


def scope_of(user, group, default) -> tuple[str, str | None]:
    given = [(scope, name) for scope, name in (("user", user), ("group", group), ("default", default)) if name]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --user USERNAME, --group GROUP or --default")
    scope, name = given[0]
    return scope, None if scope == "default" else name


def _whom(scope: str, name: str | None) -> str:
    return "the default budget" if scope == "default" else f"the budget of {scope} {name}"


@budgets_group.command("set")
@whose_budget
@click.option("--monthly-usd", required=True, metavar="USD", help="The budget per calendar month (UTC), e.g. 50 or 12.50.")
@aibridge.config_options()
def budgets_set(user, group, default, monthly_usd, **flags):
    """Set a monthly budget; every gateway takes it within seconds, without a restart."""
    scope, name = scope_of(user, group, default)
    try:
        nanos = nanos_of_usd(monthly_usd)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--monthly-usd") from None
    with budget_store(flags) as store:
        store.set_budget(scope, name, nanos)
    click.echo(f"set {_whom(scope, name)} to {usd_text(nanos)} a month")


@budgets_group.command("unset")
@whose_budget
@aibridge.config_options()
def budgets_unset(user, group, default, **flags):
    """Remove a monthly budget."""
    scope, name = scope_of(user, group, default)
    with budget_store(flags) as store:
        store.unset_budget(scope, name)
    click.echo(f"removed {_whom(scope, name)}")


BUDGET_COLUMNS = (aibridge.Column("USER", "username"), aibridge.Column("BUDGET", lambda r: dollars_text(r["budget_usd"])),
                  aibridge.Column("FROM", "budget"), aibridge.Column("SPENT", lambda r: dollars_text(r["spent_usd"])),
                  aibridge.Column("USED", lambda r: None if r["used_percent"] is None else f"{r['used_percent']:.1f}%"),
                  aibridge.Column("RESETS", "resets_at"))
BUDGET_CSV = ("username", "user_id", "month", "budget_usd", "budget", "spent_usd", "used_percent", "resets_at")


@budgets_group.command("list")
@aibridge.format_option("jsonl: one person per line; csv: one row each.")
@aibridge.config_options()
def budgets_list(fmt, **flags):
    """Each person's budget this month, where it comes from, what they spent and the share used."""
    now = utcnow()
    with budget_store(flags) as store:
        with store.db.snapshot():
            rules, usernames, spend = store.rules(), store.usernames(), store.month_spend(now)
    month, resets = month_key(now), reset_text(now)
    listing = aibridge.Listing(fmt, BUDGET_COLUMNS, csv_row=lambda r: {k: r[k] for k in BUDGET_CSV},
                               csv_columns=BUDGET_CSV)
    for user_id, username in sorted(usernames.items(), key=lambda item: item[1]):
        budget, spent = rules.budget_for(user_id), spend.get(user_id, 0)
        listing.add([{
            "username": username, "user_id": user_id, "month": month,
            "budget_usd": None if budget is None else usd(budget.nanos),
            "budget": None if budget is None else budget.source,
            "spent_usd": usd(spent),
            "used_percent": None if budget is None else percent_used(spent, budget.nanos),
            "resets_at": resets,
        }])
    listing.finish()
