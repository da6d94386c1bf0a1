"""aibridge under test: one ``aibridge server`` process (one gevent worker) with the SQLite recorder on."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from .procs import Processes, free_port, http_status, wait_until_ready
from .targets import Target

API_PREFIX = "/api/v2/aibridge"


class Aibridge:
    """A gateway with its own data directory, user and token."""

    def __init__(self, procs: Processes, work: Path, name: str, executable: str, openai_base: str, anthropic_base: str):
        self.procs = procs
        self.name = name
        self.executable = executable
        self.data_dir = work / name
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
            CODER_AIBRIDGE_OPENAI_BASE_URL=self.openai_base,
            CODER_AIBRIDGE_OPENAI_KEY="sk-bench-upstream-openai",
            CODER_AIBRIDGE_ANTHROPIC_BASE_URL=self.anthropic_base,
            CODER_AIBRIDGE_ANTHROPIC_KEY="sk-ant-bench-upstream",
            CODER_DATA_DIR=str(self.data_dir),
            CODER_HTTP_ADDRESS=f"127.0.0.1:{self.port}",
        )
        return env

    def _cli(self, *args: str) -> str:
        out = subprocess.run([self.executable, *args], env=self._env(), capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"aibridge {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
        return out.stdout.strip()

    def start(self) -> None:
        """Create the bench user and token, start the server, wait for /healthz."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._cli("users", "create", "bench", "--role", "owner")
        self.token = self._cli("tokens", "create", "bench").splitlines()[-1].strip()
        self.proc = self.procs.start(self.name, [self.executable, "server"], env=self._env())
        wait_until_ready(lambda: http_status(self.port, "/healthz")[0] == 200, self.name, self.proc, 60, self.procs, self.name)

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
        """What the recorder wrote, read from <data dir>/aibridge.db after shutdown."""
        db = sqlite3.connect(f"file:{self.data_dir / 'aibridge.db'}?mode=ro", uri=True)
        try:
            total = db.execute("SELECT count(*) FROM interceptions").fetchone()[0]
            unended = db.execute("SELECT count(*) FROM interceptions WHERE ended_at IS NULL").fetchone()[0]
            by_status = dict(db.execute("SELECT coalesce(status, ''), count(*) FROM interceptions GROUP BY 1"))
            by_api = dict(db.execute("SELECT coalesce(api, '') || CASE streaming WHEN 1 THEN ' stream' ELSE '' END, count(*) FROM interceptions GROUP BY 1"))
            token_rows = db.execute("SELECT count(*) FROM token_usages").fetchone()[0]
            prompt_rows = db.execute("SELECT count(*) FROM user_prompts").fetchone()[0]
        finally:
            db.close()
        return {
            "interceptions": total,
            "not_ended": unended,
            "by_status": by_status,
            "by_api": by_api,
            "token_usages": token_rows,
            "user_prompts": prompt_rows,
        }

    def version(self) -> str:
        out = subprocess.run([self.executable, "--version"], capture_output=True, text=True, timeout=60)
        words = out.stdout.split()
        return words[-1] if out.returncode == 0 and words else "unknown"
