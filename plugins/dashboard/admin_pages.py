"""The owners' pages: people (create, role, suspend), each person's tokens (issue, revoke), providers' state."""

from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, url_for

import aibridge

from .offhub import with_users
from .signin import owners_only, signed_in
from .token_forms import DEFAULT_LIFETIME, LIFETIMES, issue_token, revoke_token
from .web import blueprint


@blueprint.get("/admin/people")
@signed_in
@owners_only
def people():
    return _people_page()


@blueprint.post("/admin/people")
@signed_in
@owners_only
def people_create():
    # Read on the request's greenlet: the thread that writes has no request.
    username, email, role = (request.form.get(name, "").strip() for name in ("username", "email", "role"))
    try:
        user = with_users(lambda store: store.create_user(username, email, role or "member"))
    except aibridge.UserError as error:
        return _people_page(error=str(error), status=400)
    return redirect(url_for("dashboard.person", username=user.username), 303)


@blueprint.post("/admin/people/<username>/role")
@signed_in
@owners_only
def person_role(username: str):
    role = request.form.get("role", "")
    return _change(username, lambda store: store.set_role(username, role))


@blueprint.post("/admin/people/<username>/status")
@signed_in
@owners_only
def person_status(username: str):
    suspend = request.form.get("status") == "suspended"
    return _change(username, lambda store: store.suspend_user(username) if suspend else store.activate_user(username))


@blueprint.get("/admin/people/<username>")
@signed_in
@owners_only
def person(username: str):
    return _person_page(username)


@blueprint.post("/admin/people/<username>/tokens")
@signed_in
@owners_only
def person_token_create(username: str):
    try:
        token_id, token = with_users(issue_token, username, request.form.get("label", ""),
                                     request.form.get("lifetime", DEFAULT_LIFETIME))
    except aibridge.UserError as error:
        return _person_page(username, error=str(error), status=400)
    return _person_page(username, new_token=token, new_token_id=token_id)


@blueprint.post("/admin/people/<username>/tokens/<token_id>/revoke")
@signed_in
@owners_only
def person_token_revoke(username: str, token_id: str):
    try:
        with_users(revoke_token, username, token_id)
    except aibridge.UserError as error:
        return _person_page(username, error=str(error), status=404)
    return redirect(url_for("dashboard.person", username=username), 303)


@blueprint.get("/admin/providers")
@signed_in
@owners_only
def providers():
    return render_template("dashboard/providers.html", title="Providers",
                           providers=aibridge.provider_status(current_app))


def _change(username: str, change):
    """Apply a change to a person other than the viewer (an owner cannot lock themselves out)."""
    if username == g.viewer.username:
        return _people_page(error="You cannot change your own role or suspend yourself; ask another owner.",
                            status=400)
    try:
        with_users(change)
    except aibridge.UserError as error:
        return _people_page(error=str(error), status=400)
    return redirect(url_for("dashboard.people"), 303)


def _people_page(error: str | None = None, status: int = 200):
    listed = with_users(lambda store: store.list_users())
    return render_template("dashboard/people.html", title="People", people=listed, error=error), status


def _person_page(username: str, error: str | None = None, status: int = 200, **shown):
    try:
        user, listed = with_users(lambda store: (store.get_user(username), store.list_tokens(username)))
    except aibridge.UserError:
        return render_template("dashboard/message.html", title="Not found", message=f"No person {username!r}."), 404
    html = render_template("dashboard/person.html", title=username, person=user, tokens=listed, error=error,
                           lifetimes=LIFETIMES, default_lifetime=DEFAULT_LIFETIME,
                           issue_action=url_for("dashboard.person_token_create", username=username),
                           revoke_endpoint="dashboard.person_token_revoke", revoke_args={"username": username},
                           **shown)
    return html, status
