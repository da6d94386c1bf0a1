"""Faults caused for real, for the tests: another process holding the database's lock, a small full filesystem;
and ``aibridge server`` in a subprocess to suffer them. (No tests here.)
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

@pytest.fixture
def upstream():
    """A fake upstream of the test's own (the conftest one is shared by a module)."""
    from support.fakeupstream import FakeUpstream

    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path


LOCK_SCRIPT = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


class LockHolder:
    """Another process holding ``BEGIN EXCLUSIVE`` on a database until :meth:`release` (or its end)."""

    def __init__(self, database_path: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", LOCK_SCRIPT, str(database_path)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        assert line == "locked", f"the lock holder said {line!r}"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            assert self.proc.wait(timeout=30) == 0

    def __enter__(self) -> LockHolder:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class SmallFilesystem:
    """A tmpfs of ``size`` bytes mounted on ``path`` (as root), filled and freed on demand."""

    def __init__(self, path: Path, size: int):
        self.path = path
        self.size = size
        self.filler = path / "filler"

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0755", "tmpfs", str(self.path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(done.stderr.strip() or f"mount exited {done.returncode}")

    def fill(self) -> None:
        """Take every free byte."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (65536, 4096, 512, 1):  # down to the last bytes
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError:
                    pass
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@contextlib.contextmanager
def small_filesystem(path: Path, size: int = 2 * 1024 * 1024):
    """A real small filesystem on ``path``; skipped (one line) where it cannot be mounted, never under CI."""
    fs = SmallFilesystem(path, size)
    try:
        fs.mount()
    except OSError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to mount a small tmpfs (run as root): {error}")
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {error}")
    try:
        yield fs
    finally:
        fs.unmount()


def make_immutable(paths: list[Path], on: bool) -> None:
    """``chattr +i`` (or ``-i``): writes fail even through descriptors already open, as on a read-only mount
    (which cannot be remounted while files are open for writing). Skipped where the machine cannot, never under CI."""
    done = subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], capture_output=True, text=True)
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to chattr +i (run as root): {done.stderr.strip()}")
        pytest.skip(f"cannot make files immutable here (needs root): {done.stderr.strip()}")


LISTENING = r"aibridge listening on (http://127\.0\.0\.1:\d+)"
AIBRIDGE = Path(sys.executable).parent / "aibridge"
MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": "hello"}]}
STREAMED = {"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "tell me a story"}]}


class ServerProcess:
    """``aibridge server`` (gevent) in a subprocess on a free port, its anthropic provider on the fake upstream."""

    def __init__(self, spawn, environ: dict, data_dir: Path, upstream_url: str, *args):
        self.data_dir = data_dir
        self.process = spawn([AIBRIDGE, "server", "--http-address", "127.0.0.1:0", "--data-dir", data_dir,
                              "--aibridge-enabled", "--aibridge-anthropic-base-url", upstream_url,
                              "--aibridge-anthropic-key", "sk-ant-upstream", *args], environ)
        self.url = self.process.wait_for_line(LISTENING).group(1)
        self.pid = self.process.proc.pid

    def post(self, token: str | None, body: dict | None = None, stream: bool = False, timeout: float = 30):
        """A Messages request with this gateway token, as raw HTTP."""
        headers = {"x-api-key": token} if token else {}
        return requests.post(f"{self.url}/api/v2/aibridge/anthropic/v1/messages", json=body or MESSAGE,
                             headers=headers, stream=stream, timeout=timeout)

    def open_stream(self, token: str, upstream) -> tuple:
        """A streamed Messages request whose answer stalls after its first events: (response, its chunks).

        Keep both: dropping them closes the connection (the client leaving ends the interception).
        """
        upstream.queue("anthropic/stream_text", stall_after=2)
        response = self.post(token, STREAMED, stream=True)
        assert response.status_code == 200
        chunks = response.iter_content(64)
        next(chunks)  # the stream is open: its interception started
        return response, chunks

    def stop(self, timeout: float = 60) -> int:
        if self.process.proc.poll() is None:
            self.process.proc.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def log_lines(self, pattern: str) -> list[str]:
        """The stderr lines read so far that match ``pattern``."""
        return [line for line in self.process.stderr_lines if re.search(pattern, line)]


def free_port() -> int:
    """A port nothing listens on (yet): connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def metric(text: str, name: str, **labels) -> float:
    """A sample's value in a Prometheus text exposition (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? (\S+)$" if wanted else rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0
