"""aibridge under test: one ``aibridge server`` process (one gevent worker) recording into SQLite (or PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from . import records
from .procs import Processes, free_port, http_status, wait_until_ready
from .targets import Target

API_PREFIX = "/api/v2/aibridge"


class Aibridge:
    """A gateway with its own data directory, user and token."""

    def __init__(
        self,
        procs: Processes,
        work: Path,
        name: str,
        executable: str,
        openai_base: str,
        anthropic_base: str,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
        providers: list[dict[str, str]] | None = None,
    ):
        self.procs = procs
        self.name = name
        self.executable = executable
        self.data_dir = data_dir or work / name
        self.extra_env = env or {}
        self.database_url = database_url  # PostgreSQL (the URL must also be in ``env``), else SQLite in the data dir
        # Indexed instances (CODER_AIBRIDGE_PROVIDER_<N>_<KEY>) instead of the legacy openai and anthropic ones.
        self.providers = providers
        self.port = free_port()
        self.openai_base = openai_base
        self.anthropic_base = anthropic_base
        self.token = ""
        self.proc = None
        self.exit_code = None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CODER_")}
        env.update(
            CODER_AIBRIDGE_ENABLED="true",
            CODER_DATA_DIR=str(self.data_dir),
            CODER_HTTP_ADDRESS=f"127.0.0.1:{self.port}",
        )
        if self.providers is None:
            env.update(
                CODER_AIBRIDGE_OPENAI_BASE_URL=self.openai_base,
                CODER_AIBRIDGE_OPENAI_KEY="sk-bench-upstream-openai",
                CODER_AIBRIDGE_ANTHROPIC_BASE_URL=self.anthropic_base,
                CODER_AIBRIDGE_ANTHROPIC_KEY="sk-ant-bench-upstream",
            )
        for index, provider in enumerate(self.providers or ()):
            env.update({f"CODER_AIBRIDGE_PROVIDER_{index}_{key}": value for key, value in provider.items()})
        env.update(self.extra_env)
        return env

    def _cli(self, *args: str) -> str:
        out = subprocess.run([self.executable, *args], env=self._env(), capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"aibridge {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
        return out.stdout.strip()

    def start(self) -> None:
        """Create the bench user and token, start the server, wait for /healthz."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.token = self.add_user("bench", "owner")
        self.launch()

    def add_user(self, username: str, role: str = "member") -> str:
        """Create a user and a token for it (before the server starts); returns the token."""
        self._cli("users", "create", username, "--role", role)
        return self._cli("tokens", "create", username).splitlines()[-1].strip()

    def launch(self, timeout: float = 60) -> float:
        """Start the server on its port and data directory (again, after a stop or a kill); seconds until /healthz answered."""
        self.proc = self.procs.start(self.name, [self.executable, "server"], env=self._env())
        return wait_until_ready(lambda: http_status(self.port, "/healthz")[0] == 200, self.name, self.proc, timeout, self.procs, self.name)

    def kill(self) -> int:
        """kill -9: no shutdown, no flush."""
        return self.procs.stop(self.proc, signal.SIGKILL, timeout=10)

    def terminate(self, wait: float) -> tuple[bool, float]:
        """SIGTERM, then wait up to ``wait`` seconds without killing; (exited, seconds waited)."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            return False, round(time.monotonic() - started, 1)
        return True, round(time.monotonic() - started, 1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def target(self) -> Target:
        """Routes and credentials for the load clients."""
        return Target(
            name="aibridge",
            port=self.port,
            chat_path=f"{API_PREFIX}/openai/v1/chat/completions",
            messages_path=f"{API_PREFIX}/anthropic/v1/messages",
            auth={"Authorization": f"Bearer {self.token}"},
            # Forwarded upstream like any client header; nginx then picks the SSE answer.
            stream_headers={"X-Bench-Answer": "sse"},
        )

    def stop(self) -> int:
        """SIGTERM (the recorder flushes on shutdown) and wait; returns the exit status."""
        self.exit_code = self.procs.stop(self.proc, timeout=60)
        return self.exit_code

    def recorded(self) -> dict:
        """What the recorder wrote (read from a copy of <data dir>/aibridge.db, or PostgreSQL; call after stop)."""
        return records.read_postgres(self.database_url) if self.database_url else records.read(self.data_dir)

    def version(self) -> str:
        out = subprocess.run([self.executable, "--version"], capture_output=True, text=True, timeout=60)
        words = out.stdout.split()
        return words[-1] if out.returncode == 0 and words else "unknown"
