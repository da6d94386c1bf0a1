"""Hooks of the dashboard plugin: its pages and API, and at startup the database and the cookie secret."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aibridge import hookimpl

from ..storage import ensure_tables, open_for_writing, signing_key
from . import admin_pages, budgets_page, requests_page, sessions_pages, signin, tokens_page, usage_page  # noqa: F401 (routes)
from .api import api_blueprint
from .formatting import FILTERS, GLOBALS
from .viewer import SessionCookies
from .web import blueprint, settings

SIGNING_KEY = "dashboard-session"


@dataclass(frozen=True)
class Settings:
    database: Path | str  # a SQLite path or a PostgreSQL URL
    cookies: SessionCookies


@hookimpl
def aibridge_routes(app, config):
    app.register_blueprint(blueprint)
    app.register_blueprint(api_blueprint)
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals.update(GLOBALS)


@hookimpl
def aibridge_startup(app, config):
    ensure_tables(config.database)
    db = open_for_writing(config.database)
    try:
        secret = signing_key(db, SIGNING_KEY)
    finally:
        db.close()
    settings.set(app, Settings(config.database, SessionCookies(secret)))
