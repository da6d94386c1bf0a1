"""Hooks of the budgets plugin: refuse a person over budget before the request goes upstream, count spend,
notify at 85 % and 100 %, the ``aibridge groups`` and ``aibridge budgets`` commands, and the budgets for other
plugins' pages (the hook it adds, ``aibridge_budgets_admin``)."""

from __future__ import annotations

import datetime as dt
import logging

import aibridge
from aibridge import AppThread, Measurement, PluginState, Refusal, hookimpl

from . import hookspecs
from .admin import BudgetsAdmin
from .keeper import BudgetKeeper
from .money import usd_text
from .store import BudgetStore

log = logging.getLogger("aibridge.budgets")

keeper = PluginState("aibridge.budgets")
MONTH = dt.timedelta(days=31)  # the longest month: a retention under it may purge records of the current one


@hookimpl
def aibridge_add_hookspecs(pm):
    pm.add_hookspecs(hookspecs)


@hookimpl
def aibridge_budgets_admin(app):
    running = keeper.get(app)
    if running is None:
        return None
    return BudgetsAdmin(running)


@hookimpl
def aibridge_migrations():
    from ..storage.schema import migrations as record_migrations
    from .schema import migrations

    return [record_migrations, migrations]  # the recorder's first: the budgets' index its token records


@hookimpl
def aibridge_startup(app, config):
    store = BudgetStore.open(config.database)  # tables created or migrated now: errors at startup
    try:
        budgets_set = not store.rules().empty
    finally:
        store.close()
    if budgets_set and config.retention and config.retention < MONTH:
        log.warning("budgets undercount: retention (%s) purges records of this month before it ends, and the spend "
                    "of purged records no longer counts against any budget; set --aibridge-retention to at least "
                    "31 days (docs/cost.md#budgets)", config.retention)
    hub = AppThread()
    started = BudgetKeeper(config.database, lambda notice: hub.call(_announce, app, notice))
    started.start()
    keeper.set(app, started)


@hookimpl
def aibridge_shutdown(app):
    running = keeper.pop(app)
    if running is not None:
        running.stop()


@hookimpl
def aibridge_refuse_interception(request, actor):
    running = keeper.get()
    if running is None:
        return None
    over = running.check(actor.id)
    if over is None:
        return None
    budget, spent, resets = over
    message = (f"budget exceeded: {actor.username} has spent {usd_text(spent)} this month of {budget.describe()} "
               f"({usd_text(budget.nanos)}); it resets on {resets}. Ask your gateway administrator to raise it.")
    return Refusal(403, message, kind="budget", code="budget_exceeded")


@hookimpl
def on_token_usage(interception, usage):
    running = keeper.get()
    if running is not None:
        running.counted(interception.initiator_id, interception.initiator_username, interception.interception_id,
                        usage)


@hookimpl
def aibridge_measurements(app):
    running = keeper.get(app)
    if running is None:
        return None
    return [
        Measurement("cost_control_blocked_requests_total", running.blocked_requests,
                    "Intercepted requests refused (403) because the person's monthly budget was spent.",
                    kind="counter"),
        Measurement("cost_control_blocked_users", running.blocked_users(),
                    "People at or over their monthly budget now (their requests are refused).",
                    processes="max"),  # every worker reads the same store: each counts everyone
    ]


@hookimpl
def aibridge_commands(cli):
    from .cli import budgets_group, groups_group

    cli.add_command(groups_group)
    cli.add_command(budgets_group)


def _announce(app, notice: dict) -> None:
    """Call each plugin's ``on_budget_threshold`` (on the hub, in the app's context, as every hook runs).

    As for every observer hook, one plugin's failure is logged and keeps no other plugin from the notice.
    """
    with app.app_context():
        for impl in reversed(aibridge.hooks().on_budget_threshold.get_hookimpls()):
            try:
                impl.function(**{name: notice[name] for name in impl.argnames})
            except Exception:
                log.exception("plugin %r failed in on_budget_threshold", impl.plugin_name)
