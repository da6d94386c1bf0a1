"""Metrics under gunicorn: several real gevent workers, one endpoint that reports the sum of all of them.

gunicorn runs with the configuration module docs/deployment.md names
(``-c python:aibridge.gunicorn_conf``): requests spread over the workers are
all counted on the one endpoint, no worker fails to bind the metrics address,
and a killed worker's in-flight requests stop counting.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import anthropic
import pytest
import requests
from support.faults import free_port
from support.metrics_support import scrape, value
from support.recorder_support import wait_until
from support.wheelhouse import new_user_token

CLAUDE = "claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Say hello."}]
WORKERS = 3


@pytest.fixture
def deployment(aibridge_script, spawn, process_environ, tmp_path, upstream):
    """gunicorn with WORKERS gevent workers and Prometheus on; yields (master, gateway URL, metrics URL, token)."""
    upstream.reset()
    metrics_port = free_port()
    environ = {**process_environ, "CODER_AIBRIDGE_ENABLED": "true", "CODER_DATA_DIR": str(tmp_path / "data"),
               "CODER_AIBRIDGE_ANTHROPIC_BASE_URL": upstream.url, "CODER_AIBRIDGE_ANTHROPIC_KEY": "sk-ant-upstream",
               "CODER_PROMETHEUS_ENABLE": "true", "CODER_PROMETHEUS_ADDRESS": f"127.0.0.1:{metrics_port}"}
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    token = new_user_token(aibridge_script.parent, environ, "alice")
    gunicorn = Path(aibridge_script).parent / "gunicorn"
    master = spawn([gunicorn, "-c", "python:aibridge.gunicorn_conf", "-k", "gevent", "-w", str(WORKERS),
                    "-b", "127.0.0.1:0", "aibridge.app:create_app()"], environ)  # fmt: skip
    url = master.wait_for_line(r"Listening at: (http://127\.0\.0\.1:\d+)").group(1)
    for _ in range(WORKERS):
        master.wait_for_line(r"aibridge worker \d+ ready")
    assert f"serving Prometheus metrics on http://127.0.0.1:{metrics_port}/metrics" in master.stderr
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    yield master, url, metrics_url, token
    if master.proc.poll() is None:
        master.proc.send_signal(signal.SIGTERM)
        master.wait()


def send(url: str, token: str) -> None:
    """One streamed request on a connection of its own (so that any worker may take it)."""
    client = anthropic.Anthropic(api_key=token, base_url=url + "/api/v2/aibridge/anthropic", max_retries=0)
    with client.messages.stream(model=CLAUDE, max_tokens=64, messages=HELLO) as stream:
        stream.get_final_message()
    client.close()


def recorded(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "aibridge.db") as db:
        return db.execute("SELECT count(*) FROM interceptions").fetchone()[0]


def workers_that_served(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "aibridge.db") as db:
        return {row[0] for row in db.execute("SELECT DISTINCT instance_id FROM interceptions")}


def scrape_until(url: str, name: str, wanted: float, timeout: float = 15.0, **labels) -> list:
    """Scrape until ``name`` sums to ``wanted`` (counts reach the files as requests end; a new server takes over)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            samples = scrape(url)
        except requests.ConnectionError:
            samples = []  # between the end of one serving worker and its successor
        if samples and value(samples, name, **labels) == wanted or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_requests_spread_over_workers_are_counted_once_on_one_endpoint(deployment, upstream, tmp_path):
    master, url, metrics_url, token = deployment
    sent = 0
    # Concurrent requests on new connections, until at least two workers served some.
    while sent < 60 and (sent == 0 or len(workers_that_served(tmp_path / "data")) < 2):
        batch = 6
        for _ in range(batch):
            upstream.queue("anthropic/stream_text", delay=0.05)
        threads = [threading.Thread(target=send, args=(url, token)) for _ in range(batch)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent += batch
        wait_until(lambda: recorded(tmp_path / "data") == sent, what="the batch's records")  # written off the path
    assert len(workers_that_served(tmp_path / "data")) >= 2

    samples = scrape_until(metrics_url, "coder_aibridged_interceptions_total", sent)
    assert value(samples, "coder_aibridged_interceptions_total", status="completed") == sent
    assert value(samples, "coder_ai_gateway_interceptions_total", status="completed") == sent
    assert value(samples, "coder_ai_gateway_prompts_total") == sent
    assert value(samples, "coder_ai_gateway_interceptions_inflight") == 0
    # Scrape-time values of every worker, copied to its files: each worker's key pool, one provider_info.
    assert value(samples, "coder_ai_gateway_key_pool_state", state="valid") == WORKERS
    assert len({s.labels["pid"] for s in samples if s.name == "coder_ai_gateway_key_pool_state"}) == WORKERS
    assert value(samples, "coder_ai_gateway_provider_info", provider="anthropic") == 1
    assert value(samples, "coder_ai_gateway_recorder_store_up") == 1
    text = requests.get(metrics_url, timeout=10).text
    assert "_created" not in text
    # One worker served all along (at shutdown, the last workers to stop take over in turn).
    assert len([line for line in master.stderr_lines if "serving Prometheus metrics on" in line]) == 1

    master.proc.send_signal(signal.SIGTERM)
    assert master.wait() == 0, master.stderr
    assert "Address already in use" not in master.stderr
    assert "metrics are not served" not in master.stderr
    assert "Traceback" not in master.stderr


def test_a_killed_workers_requests_in_flight_stop_counting(deployment, upstream):
    master, url, metrics_url, token = deployment
    upstream.queue("anthropic/stream_text", stall_after=1)  # the stream starts, then the upstream goes silent
    stalled = threading.Thread(target=_send_ignoring_errors, args=(url, token), daemon=True)
    stalled.start()
    samples = scrape_until(metrics_url, "coder_ai_gateway_interceptions_inflight", 1)
    assert value(samples, "coder_ai_gateway_interceptions_inflight") == 1

    # The worker serving the endpoint is killed: another one takes it over.
    port = int(metrics_url.rsplit(":", 1)[1].split("/")[0])
    old = _workers(master.proc.pid)
    assert len(old) == WORKERS
    serving = _listening_pid(port, old)
    os.kill(serving, signal.SIGKILL)
    _wait_until_gone(serving)  # until then, it may still answer the scrape
    samples = scrape_until(metrics_url, "coder_ai_gateway_provider_info", 1, provider="anthropic")
    assert samples, "no worker took the endpoint over"
    # A survivor (its tick comes within a second) or the killed one's replacement (when it boots first).
    assert _listening_pid(port, _workers(master.proc.pid)) not in (None, serving)

    for pid in set(old) - {serving}:
        os.kill(pid, signal.SIGKILL)
    samples = scrape_until(metrics_url, "coder_ai_gateway_interceptions_inflight", 0)
    assert samples, "no worker serves the metrics after the old ones were killed"
    assert value(samples, "coder_ai_gateway_interceptions_inflight") == 0
    # The killed workers' key pools are gone with them (as the master sees each exit); the new workers' are shown.
    def only_new_pools():
        try:
            samples = scrape(metrics_url)
        except (requests.RequestException, AssertionError):
            return None  # between two serving workers
        pids = {s.labels["pid"] for s in samples if s.name == "coder_ai_gateway_key_pool_state"}
        return samples if len(pids) == WORKERS and not pids & set(map(str, old)) else None

    samples = wait_until(only_new_pools, timeout=15, what="the new workers' key pools, and only theirs")
    assert value(samples, "coder_ai_gateway_key_pool_state", state="valid") == WORKERS


def _send_ignoring_errors(url: str, token: str) -> None:
    try:
        send(url, token)
    except Exception:
        pass  # its worker is killed under it


def _listening_pid(port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` has a socket listening on 127.0.0.1:``port`` (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == f"0100007F:{port:04X}" and fields[3] == "0A":
            inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        try:
            links = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
        except OSError:
            continue  # gone
        if links & inodes:
            return pid
    return None


def _wait_until_gone(pid: int, timeout: float = 10.0) -> None:
    """Until the killed process holds no file (its sockets and locks are closed), even as a zombie."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not any(Path(f"/proc/{pid}/fd").iterdir()):
                return
        except OSError:
            return  # reaped
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still runs {timeout}s after SIGKILL")


def _workers(master_pid: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()]


def test_blocked_users_count_each_person_once_whatever_the_workers(deployment, tmp_path):
    """Every worker reads the same budgets and spend: the endpoint shows the people blocked, not that × workers."""
    from support.budgets_support import run_cli

    master, url, metrics_url, token = deployment
    run_cli(["--data-dir", str(tmp_path / "data")], "budgets", "set", "--default", "--monthly-usd", "0")
    # Within 3 s each worker read it (refresh every 2 s, copied to its files every second); a sum would reach
    # WORKERS by then: wait that long for it, and see the one person blocked (alice, who never spent).
    samples = scrape_until(metrics_url, "coder_aibridged_cost_control_blocked_users", WORKERS, timeout=6)
    assert value(samples, "coder_aibridged_cost_control_blocked_users") == 1
    assert value(samples, "coder_ai_gateway_cost_control_blocked_users") == 1
