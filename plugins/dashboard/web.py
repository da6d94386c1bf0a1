"""The dashboard's blueprint: its pages, templates and static files (shipped in the package, nothing fetched)."""

from __future__ import annotations

from flask import Blueprint

import aibridge

blueprint = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/dashboard/static")

# Set at startup: where the records are, and what signs the session cookie.
settings = aibridge.PluginState("aibridge.dashboard")

# Pages name no other origin: styles, images and forms are the gateway's own, and no page may be framed.
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                           "base-uri 'none'; frame-ancestors 'none'")


@blueprint.after_request
def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype != "text/css":
        response.headers.setdefault("Cache-Control", "no-store")  # what a person may see is theirs alone
    return response
