"""Owners' "Groups and budgets": groups and their members, monthly budgets (default, group, person), and each
person's spend this month against the budget that applies to them.

The budgets are the budgets plugin's: this page reaches them only through the
hook that plugin adds, ``aibridge_budgets_admin`` (docs/plugins.md), never its
modules. Without that plugin the page says so and changes nothing.
"""

from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, url_for

import aibridge

from .offhub import off_hub
from .signin import owners_only, signed_in
from .web import blueprint


def budgets_admin():
    """The budgets plugin's BudgetsAdmin for this app, or None (the plugin is disabled or not started)."""
    hooks = aibridge.hooks()
    if not hasattr(hooks, "aibridge_budgets_admin"):
        return None
    return hooks.aibridge_budgets_admin(app=current_app._get_current_object())


def own_budget() -> dict | None:
    """The viewer's budget this month and their spend against it (for their usage page); None without budgets.

    From the gateway's memory, as it enforces them: no database read.
    """
    admin = budgets_admin()
    return None if admin is None else admin.person(g.viewer.id)


@blueprint.get("/admin/budgets")
@signed_in
@owners_only
def budgets():
    return _page()


@blueprint.post("/admin/budgets/groups")
@signed_in
@owners_only
def group_create():
    name = request.form.get("name", "")
    return _change(lambda admin: admin.create_group(name), "groups")


@blueprint.post("/admin/budgets/groups/<name>/delete")
@signed_in
@owners_only
def group_delete(name: str):
    return _change(lambda admin: admin.delete_group(name), "groups")


@blueprint.post("/admin/budgets/groups/<name>/members")
@signed_in
@owners_only
def member_add(name: str):
    username = request.form.get("username", "")
    return _change(lambda admin: admin.add_member(name, username), "groups")


@blueprint.post("/admin/budgets/groups/<name>/members/<username>/remove")
@signed_in
@owners_only
def member_remove(name: str, username: str):
    return _change(lambda admin: admin.remove_member(name, username), "groups")


@blueprint.post("/admin/budgets/set")
@signed_in
@owners_only
def budget_set():
    scope, name, amount = (request.form.get(field, "") for field in ("scope", "name", "monthly_usd"))
    return _change(lambda admin: admin.set_budget(scope, name or None, amount), _anchor(scope))


@blueprint.post("/admin/budgets/unset")
@signed_in
@owners_only
def budget_unset():
    scope, name = request.form.get("scope", ""), request.form.get("name", "")
    return _change(lambda admin: admin.unset_budget(scope, name or None), _anchor(scope))


def _anchor(scope: str) -> str:
    return {"group": "groups", "user": "spend"}.get(scope, "default")


def _change(change, anchor: str):
    """Apply ``change(admin)`` off the hub; back to the page (at ``anchor``), or the page with what went wrong."""
    admin = budgets_admin()
    if admin is None:
        return _page(status=404)
    try:
        off_hub(change, admin)
    except ValueError as error:  # the budgets plugin's errors say what is wrong (an unknown user, a bad amount...)
        return _page(error=str(error), status=400)
    return redirect(url_for("dashboard.budgets") + f"#{anchor}", 303)


def _page(error: str | None = None, status: int = 200):
    admin = budgets_admin()
    data = off_hub(admin.overview) if admin is not None else None
    html = render_template("dashboard/budgets.html", title="Groups and budgets", data=data, error=error)
    return html, status
