"""aibridge.BackgroundThread: the OS thread the token cache, prices, budgets, retention and recorder run on."""

from __future__ import annotations

import subprocess
import sys

import aibridge
from aibridge import threads


def test_run_gets_queued_items_on_its_own_thread_and_stop_waits_for_it_to_return():
    worker = aibridge.BackgroundThread()
    seen, idents, cleaned = [], [], []

    def run():
        idents.append(threads.thread_ident())
        try:
            while (item := worker.queue.get()) is not aibridge.BackgroundThread.STOP:
                seen.append(item)
        finally:
            threads.os_sleep(0.05)  # stop() must wait for this too
            cleaned.append(True)

    assert not worker.running
    worker.start(run)
    assert worker.running
    worker.queue.put(1)
    worker.queue.put(2)
    worker.stop()
    assert (seen, cleaned) == ([1, 2], [True])
    assert idents[0] != threads.thread_ident()
    assert not worker.running
    worker.stop()  # a second stop does nothing


def test_a_second_start_is_refused_at_once_and_never_waits():
    import pytest

    worker = aibridge.BackgroundThread()
    worker.start(lambda: worker.queue.get())  # returns at STOP
    with pytest.raises(RuntimeError, match="running already"):
        worker.start(lambda: None)
    worker.stop()
    worker.start(lambda: worker.queue.get())  # once stopped, it starts again
    worker.stop()


def test_stop_without_start_does_nothing():
    aibridge.BackgroundThread().stop()


def test_stop_returns_when_run_failed(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)  # where an OS thread's uncaught error goes
    worker = aibridge.BackgroundThread()

    def run():
        raise RuntimeError("broken")

    worker.start(run)
    worker.stop()  # does not hang
    assert threads.wait_until(lambda: reported, 10)  # and the error is not swallowed
    assert isinstance(reported[0].exc_value, RuntimeError)


GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import logging, sys
import gevent
import aibridge
from aibridge import threads

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
worker = aibridge.BackgroundThread()
log = aibridge.ThreadSafeLogger(logging.getLogger("t"))
ticks = []

def run():
    while worker.queue.get() is not aibridge.BackgroundThread.STOP:
        pass
    threads.os_sleep(0.1)  # the hub must keep running while stop() waits for this
    log.info("thread logged")

def ticker():
    while True:
        ticks.append(1)
        gevent.sleep(0.01)

gevent.spawn(ticker)
worker.start(run, log)
gevent.sleep(0.02)
before = len(ticks)
worker.stop()
print("ticked", len(ticks) > before, "on OS thread", threads.gevent_patched())
"""


def test_under_gevent_stop_keeps_the_hub_running_and_flushes_the_thread_log():
    done = subprocess.run([sys.executable, "-c", GEVENT_SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "thread logged" in done.stdout
    assert "ticked True on OS thread True" in done.stdout
