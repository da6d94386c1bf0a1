"""The public plugin API: light to import, and per-app plugin state."""

from __future__ import annotations

import subprocess
import sys

from flask import Flask

import aibridge


def test_importing_aibridge_loads_no_web_database_or_gevent_module(process_environ):
    # ``import aibridge`` runs before gevent patches the standard library (the console script's entry point).
    code = ("import sys, aibridge\n"
            "print(sorted(m for m in ('flask', 'click', 'sqlite_utils', 'gevent', 'ssl') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], env=process_environ, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_names_from_heavier_modules_load_on_first_use():
    from aibridge.config.loader import load_config

    assert aibridge.load_config is load_config
    assert "load_config" in vars(aibridge)


def test_plugin_state_is_kept_per_app():
    state = aibridge.PluginState("test.state")
    first, second = Flask("first"), Flask("second")
    state.set(first, "one")
    assert (state.get(first), state.get(second)) == ("one", None)
    with first.app_context():
        assert state.get() == "one"
    with second.app_context():
        assert state.get() is None
    assert state.pop(first) == "one"
    assert state.get(first) is None and state.pop(first) is None
