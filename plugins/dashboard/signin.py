"""Signing in with a gateway token, signing out, and the checks every page makes: signed in, owner, form token.

The token is checked as every other route checks one (``aibridge.authenticate``:
the authentication plugins, the token store, the limit of failed attempts per
address) and is then forgotten: the browser keeps only the signed session
cookie (HttpOnly, SameSite=Strict, Secure over HTTPS). Every form carries
the session's form token; the sign-in form, before there is a session, a
random value also set as a short-lived cookie (double submit).
"""

from __future__ import annotations

import functools
import hmac
import secrets

from flask import Request, g, make_response, redirect, render_template, request, url_for

import aibridge

from .offhub import off_hub
from .viewer import COOKIE, SESSION_LIFETIME, current_viewer
from .web import blueprint, settings

LOGIN_COOKIE = "aibridge_login"


def signed_in(view):
    """The page needs a signed-in viewer (else: to the sign-in page); a form must carry their form token."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        viewer = _viewer()
        if viewer is None:
            target = request.full_path.rstrip("?") if request.method == "GET" else None
            response = redirect(url_for("dashboard.login", next=target))
            response.delete_cookie(COOKIE, path="/")
            return response
        if request.method == "POST" and not _same(request.form.get("csrf_token"), viewer.csrf):
            return refused("This form is out of date (or came from another site). Open the page again.")
        g.viewer = viewer
        return view(*args, **kwargs)

    return checked


def owners_only(view):
    """The page is for owners; members get 403 (used under ``signed_in``)."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        if not g.viewer.is_owner:
            return refused("Only owners may open this page.")
        return view(*args, **kwargs)

    return checked


def refused(message: str, status: int = 403):
    title = "Not found" if status == 404 else "Not allowed"
    return render_template("dashboard/message.html", title=title, message=message), status


@blueprint.app_context_processor
def viewer_in_templates():
    return {"viewer": g.get("viewer")}


@blueprint.get("/login")
def login():
    if _viewer() is not None:
        return redirect(_next_page())
    return _login_page()


@blueprint.post("/login")
def login_submit():
    if not _same(request.form.get("csrf_token"), request.cookies.get(LOGIN_COOKIE)):
        return _login_page("The sign-in form expired. Try again.", 400)
    token = request.form.get("token", "").strip()
    try:
        actor = _authenticate(token) if token else None
    except Exception as error:
        if not hasattr(error, "retry_after_header"):  # not the gateway's own 429 / 503 (aibridge.authenticate)
            raise
        return _login_page(error.message, error.status, {"Retry-After": error.retry_after_header})
    if actor is None:
        return _login_page("That token is not valid: it may be mistyped, expired or revoked.", 401)
    response = redirect(_next_page())
    response.set_cookie(COOKIE, settings.get().cookies.issue(actor), max_age=int(SESSION_LIFETIME.total_seconds()),
                        path="/", httponly=True, samesite="Strict", secure=request.is_secure)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@blueprint.post("/logout")
@signed_in
def logout():
    response = redirect(url_for("dashboard.login"))
    response.delete_cookie(COOKIE, path="/")
    return response


def _viewer():
    """The signed-in viewer of this request, or None."""
    if "viewer" in g:
        return g.viewer
    state = settings.get()
    claims = state.cookies.read(request.cookies.get(COOKIE))
    return off_hub(current_viewer, state.database, claims) if claims else None


def _authenticate(token: str):
    """The Actor behind ``token``, checked as the provider and audit routes check theirs."""
    environ = {key: value for key, value in request.environ.items()
               if not key.startswith("HTTP_") or key in ("HTTP_HOST", "HTTP_USER_AGENT")}
    environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return aibridge.authenticate(Request(environ))


def _login_page(error: str | None = None, status: int = 200, headers=None):
    form_token = secrets.token_urlsafe(24)
    page = render_template("dashboard/login.html", error=error, csrf_token=form_token, next=_next_page(),
                           title="Sign in")
    response = make_response(page, status, headers or {})
    response.set_cookie(LOGIN_COOKIE, form_token, max_age=3600, path="/login", httponly=True, samesite="Strict",
                        secure=request.is_secure)
    return response


def _next_page() -> str:
    """Where to go after signing in: a page of this site only (never another host)."""
    target = request.values.get("next") or ""
    if not target.startswith("/") or target.startswith("//") or "\\" in target or target.startswith("/login"):
        return url_for("dashboard.sessions")
    return target


def _same(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
