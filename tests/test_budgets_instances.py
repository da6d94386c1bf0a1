"""Two real ``aibridge server`` processes (gevent) on one database, SQLite and PostgreSQL: the spend one of them
records counts on the other within its refresh, without a database query per request."""

from __future__ import annotations

import requests
from support.budgets_support import budgets_json, run_cli
from support.faults import ServerProcess, data_dir, free_port, metric, upstream  # noqa: F401 - fixtures
from support.recorder_support import user_with_token, wait_until

PREFIX = "coder_aibridged_"  # the default metric prefix


class Instance(ServerProcess):
    """A server with its metrics on a port of its own."""

    def __init__(self, spawn, environ, own_dir, upstream_url, database_flags):
        self.metrics_port = free_port()
        super().__init__(spawn, environ, own_dir, upstream_url, *database_flags, "--prometheus-enable",
                         "--prometheus-address", f"127.0.0.1:{self.metrics_port}")

    def metric(self, name: str) -> float:
        text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        return metric(text, PREFIX + name)


def test_a_second_instance_refuses_on_the_first_ones_spend(spawn, process_environ, tmp_path, upstream, store):
    if store:
        flags, database = ["--postgres-url", store["postgres_url"]], store["postgres_url"]
        dirs = [tmp_path / "a", tmp_path / "b"]  # two hosts: nothing shared but PostgreSQL
    else:
        shared = tmp_path / "shared"
        flags, database, dirs = ["--data-dir", str(shared)], shared / "aibridge.db", [shared, shared]
    for directory in dirs:
        directory.mkdir(exist_ok=True)
    cli_flags = flags if store else ["--data-dir", str(dirs[0])]
    database_flags = flags if store else []
    first, second = (Instance(spawn, process_environ, directory, upstream.url, database_flags) for directory in dirs)
    _, meter = user_with_token(database, "meter")
    _, alice = user_with_token(database, "alice")

    upstream.queue("anthropic/blocking_text")
    assert first.post(meter).status_code == 200
    wait_until(lambda: budgets_json(cli_flags)["meter"]["spent_usd"] != "0", what="the meter's cost stored")
    price = budgets_json(cli_flags)["meter"]["spent_usd"]
    run_cli(cli_flags, "budgets", "set", "--user", "alice", "--monthly-usd", price)  # one answer's worth
    wait_until(lambda: budgets_json(cli_flags)["alice"]["budget_usd"] == price, what="alice's budget stored")

    upstream.queue("anthropic/blocking_text")
    assert first.post(alice).status_code == 200  # spends all of it, on the first instance
    # The second learns it from the database within its refresh (2 s), and from nothing else.
    wait_until(lambda: second.metric("cost_control_blocked_users") == 1, timeout=15,
               what="the second instance to see alice's spend")
    sent = len(upstream.requests)
    refused = second.post(alice)
    assert refused.status_code == 403, refused.text
    assert f"alice has spent ${price} this month" in refused.json()["error"]["message"]
    assert len(upstream.requests) == sent  # nothing went upstream
    assert second.metric("cost_control_blocked_requests_total") == 1

    for server in (first, second):
        assert server.stop() == 0
    # The notices at 85 % and 100 % went out once in all, from whichever instance saw them first (under gevent,
    # through the hub).
    notices = first.log_lines(r"budget: alice has spent") + second.log_lines(r"budget: alice has spent")
    assert len(notices) == 2, first.process.stderr + second.process.stderr
