"""The Flask app factory: ``create_app()`` serves the gateway (also under gunicorn)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify

from .people.auth import AuthError
from .config import Config
from .datafiles import warn_about_shared_data_files
from .gateway import Gateway
from .plugins import make_plugin_manager, start_plugins
from .provider_keys import missing_key_warnings
from .relay import relay_blueprint
from .status_api import status_blueprint

log = logging.getLogger("aibridge")


def create_app(config: Config | None = None, plugin_manager=None) -> Flask:
    """Build the gateway app from ``config`` (default: environment and CODER_CONFIG_PATH)."""
    if config is None:
        from .config.loader import load_config

        config = load_config()
    for warning in config.warnings:  # e.g. a misspelt CODER_AI_GATEWAY_* variable
        log.warning(warning)
    warn_about_shared_data_files(config.data_dir, config.database_path)
    pm = plugin_manager or make_plugin_manager(config.disable_plugins)
    app = Flask("aibridge")
    app.extensions["aibridge"] = Gateway(config, pm)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        answer = app.extensions["aibridge"].readiness(app)
        return jsonify(answer), 200 if answer["status"] == "ready" else 503

    @app.errorhandler(AuthError)
    def auth_error(error: AuthError):
        """Routes plugins add (``aibridge.authenticate``) answer 429 and 503 this way, in the coder API's shape."""
        return jsonify(message=error.message), error.status, {"Retry-After": error.retry_after_header}

    app.register_blueprint(relay_blueprint)
    app.register_blueprint(status_blueprint)
    try:
        start_plugins(pm, app, config)
    except BaseException:
        app.extensions["aibridge"].shutdown(app)  # the gateway's own threads (prices, dumps) stop with the plugins'
        raise
    for warning in missing_key_warnings(config):  # once it is sure to serve: a refusal to start stays one line
        log.warning(warning)
    return app


def shutdown_app(app: Flask) -> None:
    """Run the plugins' ``aibridge_shutdown`` hooks once (flush records, stop threads)."""
    gateway: Gateway = app.extensions["aibridge"]
    gateway.shutdown(app)
