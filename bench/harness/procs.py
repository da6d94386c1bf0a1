"""Child processes of a benchmark run: start in their own session, stop them all, even on failure."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(port: int, path: str, method: str = "GET", headers=None, body=None, timeout: float = 2.0) -> tuple[int, bytes]:
    """One HTTP request to 127.0.0.1:port; returns (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Processes:
    """Every process this run started; ``stop_all`` ends each one's process group."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self._running: dict[int, tuple[str, subprocess.Popen]] = {}

    def start(self, name: str, argv: list[str], env: dict | None = None, cwd: str | None = None) -> subprocess.Popen:
        """Start ``argv`` in a new session, output to <log_dir>/<name>.log."""
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._running[proc.pid] = (name, proc)
        return proc

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last lines a child wrote, for error messages."""
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` to the process (then its group), wait, SIGKILL the group if it lingers."""
        self._running.pop(proc.pid, None)
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        # Whatever the process group leader left behind (nginx workers, gateway children).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if code is None:
            code = proc.wait(5)
            return code if code is not None else -9
        return code

    def stop_all(self) -> None:
        """Stop every process still running (used in ``finally`` and on signals)."""
        for _pid, (_name, proc) in list(self._running.items()):
            self.stop(proc, timeout=10.0)


def wait_until_ready(check, what: str, proc: subprocess.Popen | None, timeout: float, procs: Processes | None = None, log_name: str = "") -> float:
    """Poll ``check()`` until it returns True; fail early if ``proc`` died. Returns seconds waited."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except (OSError, http.client.HTTPException):
            pass
        if proc is not None and proc.poll() is not None:
            tail = procs.log_tail(log_name) if procs else ""
            raise RuntimeError(f"{what} exited with status {proc.returncode} before it was ready:\n{tail}")
        if time.monotonic() - started > timeout:
            tail = procs.log_tail(log_name) if procs else ""
            raise RuntimeError(f"{what} was not ready after {timeout:.0f} s:\n{tail}")
        time.sleep(0.1)


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (VmRSS from /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")
