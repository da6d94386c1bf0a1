"""A real gateway served over HTTP on 127.0.0.1 for tests, and a plugin that collects every record."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from werkzeug.serving import make_server

import aibridge
from aibridge.app import create_app, shutdown_app
from aibridge.config import Config, ProviderConfig
from aibridge.db import open_database
from aibridge.people.users import UserStore


class Gateway:
    """``create_app(config)`` behind a threaded HTTP server on a free port."""

    def __init__(self, config: Config, plugin_manager=None):
        self.config = config
        self.app = create_app(config, plugin_manager)
        self.pm = self.app.extensions["aibridge"].pm
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def bridge_url(self, provider_name: str) -> str:
        return f"{self.url}/api/v2/aibridge/{provider_name}"

    def create_token(self, username: str = "alice", role: str = "member") -> str:
        """A user (created when missing) and a fresh gateway token for them."""
        store = UserStore(open_database(self.config.database))
        if username not in {u.username for u in store.list_users()}:
            store.create_user(username, role=role)
        return store.create_token(username, None)[1]

    @contextlib.contextmanager
    def registered(self, plugin, name: str):
        """``plugin`` registered on this gateway's plugin manager until the block ends."""
        self.pm.register(plugin, name=name)
        try:
            yield plugin
        finally:
            self.pm.unregister(plugin)

    @contextlib.contextmanager
    def collecting(self, *fakes):
        """A :class:`RecordCollector` registered until the block ends; each fake upstream of ``fakes`` reset first."""
        for fake in fakes:
            fake.reset()
        with self.registered(RecordCollector(), "test-collector") as collector:
            yield collector

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutdown_app(self.app)

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def collecting_gateway(config: Config) -> Gateway:
    """A Gateway whose ``collector``, a :class:`RecordCollector`, keeps every record."""
    gw = Gateway(config)
    gw.collector = RecordCollector()
    gw.pm.register(gw.collector, name="test-collector")
    return gw


def gateway_config(data_dir: Path, upstream_url: str, **overrides) -> Config:
    """A config with one instance of each provider type pointing at the fake upstream."""
    providers = (
        ProviderConfig(type="anthropic", name="anthropic", base_url=upstream_url, keys=("sk-ant-upstream-key",)),
        ProviderConfig(type="openai", name="openai", base_url=upstream_url + "/v1", keys=("sk-openai-upstream-key",)),
        ProviderConfig(type="copilot", name="copilot", base_url=upstream_url),
    )
    # Upstream errors reach these tests' clients as sent; retries have their own tests (test_resilience_*.py).
    values = dict(enabled=True, providers=providers, data_dir=data_dir, max_retries=0)
    values.update(overrides)
    return Config(**values)


class RecordCollector:
    """A plugin that keeps every record the observer hooks announce, in order."""

    def __init__(self):
        self.records: list[tuple[str, object]] = []
        self._changed = threading.Condition()

    def _add(self, hook: str, record) -> None:
        with self._changed:
            self.records.append((hook, record))
            self._changed.notify_all()

    @aibridge.hookimpl
    def on_interception_start(self, interception):
        self._add("interception_start", interception)

    @aibridge.hookimpl
    def on_prompt_usage(self, interception, prompt):
        self._add("prompt_usage", prompt)

    @aibridge.hookimpl
    def on_token_usage(self, interception, usage):
        self._add("token_usage", usage)

    @aibridge.hookimpl
    def on_tool_usage(self, interception, tool):
        self._add("tool_usage", tool)

    @aibridge.hookimpl
    def on_tool_result(self, interception, result):
        self._add("tool_result", result)

    @aibridge.hookimpl
    def on_model_thought(self, interception, thought):
        self._add("model_thought", thought)

    @aibridge.hookimpl
    def on_interception_end(self, interception):
        self._add("interception_end", interception)

    def of(self, kind: str) -> list:
        with self._changed:
            return [record for hook, record in self.records if hook == kind]

    def wait_for_ends(self, count: int = 1, timeout: float = 10.0) -> list:
        """Block until ``count`` interceptions ended (streams end after the client read the last byte)."""
        with self._changed:
            done = self._changed.wait_for(lambda: len(self.of_locked("interception_end")) >= count, timeout)
        assert done, f"only {len(self.of('interception_end'))} of {count} interceptions ended"
        return self.of("interception_end")

    def of_locked(self, kind: str) -> list:
        return [record for hook, record in self.records if hook == kind]

    def clear(self) -> None:
        with self._changed:
            self.records.clear()


def token_totals(usages) -> dict[str, int]:
    """The sum of an interception's token records, per column."""
    columns = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens")
    return {column: sum(getattr(u, column) for u in usages) for column in columns}
