"""LiteLLM proxy under test: one worker, offline, master key only (no database, so it records nothing)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

from . import canned
from .procs import Processes, free_port, http_status, wait_until_ready
from .targets import Target

UPSTREAM_KEY = "sk-bench-upstream"


def _config(master_key: str, nginx_base: str, slow_base: str) -> dict:
    """Model routes that reach the same canned answers as the other legs."""

    def route(name: str, model: str, api_base: str) -> dict:
        return {"model_name": name, "litellm_params": {"model": model, "api_base": api_base, "api_key": UPSTREAM_KEY}}

    return {
        "model_list": [
            route("bench-gpt", f"openai/{canned.OPENAI_MODEL}", f"{nginx_base}/v1"),
            route("bench-gpt-stream", f"openai/{canned.OPENAI_MODEL}", f"{nginx_base}/stream/v1"),
            # An anthropic/ model: LiteLLM would turn /v1/messages for openai/ models into Responses API calls.
            route("bench-claude", f"anthropic/{canned.ANTHROPIC_MODEL}", nginx_base),
            route("bench-claude-stream", f"anthropic/{canned.ANTHROPIC_MODEL}", f"{nginx_base}/stream"),
            route("bench-gpt-slow", f"openai/{canned.OPENAI_MODEL}", f"{slow_base}/v1"),
        ],
        "litellm_settings": {"telemetry": False, "drop_params": True},
        "general_settings": {"master_key": master_key},
    }


class Litellm:
    """``litellm --num_workers 1`` from its own virtualenv."""

    name = "litellm"

    def __init__(self, procs: Processes, work: Path, venv: Path, nginx_base: str, slow_base: str):
        self.procs = procs
        self.venv = venv.resolve()
        self.dir = work / "litellm"
        self.port = free_port()
        self.master_key = "sk-" + secrets.token_urlsafe(32)
        self.nginx_base = nginx_base
        self.slow_base = slow_base
        self.proc = None
        self.startup_seconds = None

    def start(self, timeout: float = 180) -> None:
        """Write the config (JSON is YAML), start the proxy, poll /health/liveliness."""
        self.dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "config.yaml"
        config.write_text(json.dumps(_config(self.master_key, self.nginx_base, self.slow_base), indent=2))
        env = dict(os.environ)
        env.update(
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            LITELLM_LOG="ERROR",
            LITELLM_TELEMETRY="False",
            NO_PROXY="127.0.0.1,localhost",
            # LiteLLM's own default caps upstream connections at 500 per host: lift it so the
            # idle-stream test measures what one process holds, not that setting.
            AIOHTTP_CONNECTOR_LIMIT="20000",
            AIOHTTP_CONNECTOR_LIMIT_PER_HOST="20000",
        )
        argv = [str(self.venv / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port), "--num_workers", "1"]
        self.proc = self.procs.start(self.name, argv, env=env, cwd=str(self.dir))
        ready = lambda: http_status(self.port, "/health/liveliness")[0] == 200  # noqa: E731
        self.startup_seconds = round(wait_until_ready(ready, "litellm", self.proc, timeout, self.procs, "litellm"), 1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def target(self) -> Target:
        return Target(
            name="litellm",
            port=self.port,
            chat_path="/v1/chat/completions",
            messages_path="/v1/messages",
            auth={"Authorization": f"Bearer {self.master_key}"},
            chat_model="bench-gpt",
            chat_stream_model="bench-gpt-stream",
            messages_model="bench-claude",
            messages_stream_model="bench-claude-stream",
        )

    def slow_target(self) -> Target:
        return Target(
            name="litellm",
            port=self.port,
            chat_path="/v1/chat/completions",
            messages_path="/v1/messages",
            auth={"Authorization": f"Bearer {self.master_key}"},
            chat_stream_model="bench-gpt-slow",
        )

    def stop(self) -> int:
        return self.procs.stop(self.proc, timeout=20)

    def version(self) -> str:
        out = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() or "unknown"
