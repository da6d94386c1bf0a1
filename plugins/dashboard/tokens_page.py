"""A person's own gateway tokens: list them, create one (shown once), revoke one."""

from __future__ import annotations

from flask import g, redirect, render_template, request, url_for

import aibridge

from .offhub import with_users
from .signin import signed_in
from .token_forms import DEFAULT_LIFETIME, LIFETIMES, issue_token, revoke_token
from .web import blueprint


@blueprint.get("/tokens")
@signed_in
def tokens():
    return _page()


@blueprint.post("/tokens")
@signed_in
def tokens_create():
    try:
        token_id, token = with_users(issue_token, g.viewer.username, request.form.get("label", ""),
                                     request.form.get("lifetime", DEFAULT_LIFETIME))
    except aibridge.UserError as error:
        return _page(error=str(error), status=400)
    return _page(new_token=token, new_token_id=token_id)


@blueprint.post("/tokens/<token_id>/revoke")
@signed_in
def tokens_revoke(token_id: str):
    try:
        with_users(revoke_token, g.viewer.username, token_id)
    except aibridge.UserError as error:
        return _page(error=str(error), status=404)
    return redirect(url_for("dashboard.tokens"), 303)


def _page(error: str | None = None, status: int = 200, **shown):
    try:
        listed = with_users(lambda store, username: store.list_tokens(username), g.viewer.username)
    except aibridge.UserError:  # signed in through an authentication plugin: no tokens of ours
        listed, error = None, error or "Your sign-in comes from an authentication plugin: it has no gateway tokens here."
    html = render_template("dashboard/tokens.html", title="Your tokens", tokens=listed, error=error,
                           lifetimes=LIFETIMES, default_lifetime=DEFAULT_LIFETIME,
                           issue_action=url_for("dashboard.tokens_create"),
                           revoke_endpoint="dashboard.tokens_revoke", revoke_args={}, **shown)
    return html, status
