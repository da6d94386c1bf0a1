"""gunicorn's configuration for aibridge: ``gunicorn -c python:aibridge.gunicorn_conf -k gevent ...``.

What it does (docs/deployment.md, "gunicorn"):

- ``on_starting`` (master): checks the configuration (one line and exit 2
  when it is wrong) and sets up logging once; the workers inherit it.
- With ``--prometheus-enable``, it gives every worker one directory for its
  metrics (``PROMETHEUS_MULTIPROC_DIR``: the one set in the environment,
  emptied of old ``*.db`` files, else a new temporary one removed at exit),
  so that one worker serves ``--prometheus-address`` with every worker's
  counts (docs/metrics.md, "Several processes").
- ``child_exit`` (master): a worker that ended, however it ended, no longer
  counts in the in-flight and state gauges.
- ``post_worker_init``: once the worker loaded the app, freezes what start-up
  made out of the garbage collector's way (as ``aibridge server`` does;
  docs/benchmarks.md).
- ``worker_exit``: runs the plugins' shutdown hooks, so pending records are
  written before the worker ends.

The module lives outside ``aibridge.server`` on purpose, and imports inside
the functions: the master must not import ``ssl`` (through requests or
prometheus_client) before the gevent workers patch it. To add hooks of your
own, write a gunicorn.conf.py that starts with
``from aibridge.gunicorn_conf import *``.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile

__all__ = ["on_starting", "post_worker_init", "worker_exit", "child_exit", "on_exit"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_created_dir: list[str] = []  # the metrics directory this master made itself (removed at exit)


def on_starting(server):
    """Check the configuration and set up logging once, in the master; workers inherit it."""
    from aibridge.config import ConfigError
    from aibridge.config.loader import load_config
    from aibridge.logs import setup_logging

    try:
        config = load_config()
        setup_logging(config)
    except ConfigError as error:
        print(f"aibridge: error: {error}", file=sys.stderr)
        sys.exit(2)
    if config.prometheus_enable:
        directory = _metrics_dir()
        os.environ[MULTIPROC_ENV] = directory  # before any worker imports prometheus_client
        server.log.info("aibridge workers keep their metrics in %s", directory)


def _metrics_dir() -> str:
    """The directory for every worker's metrics files, without the files of an earlier run."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        directory = tempfile.mkdtemp(prefix="aibridge-metrics-")
        _created_dir.append(directory)
        return directory
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)  # an earlier run's counts would be added to this one's
    return directory


def post_worker_init(worker):
    """The app is loaded: settle the interpreter for serving, as ``aibridge server`` does."""
    from aibridge.interpreter import settle_for_serving

    settle_for_serving()
    worker.log.info("aibridge worker %s ready", worker.pid)


def worker_exit(server, worker):
    """Run the plugins' shutdown hooks: pending records are written before the worker ends."""
    from aibridge.app import shutdown_app

    app = getattr(worker, "wsgi", None)
    if app is None:
        return  # the app never loaded in this worker: nothing to flush
    shutdown_app(app)
    server.log.info("aibridge worker %s shut down", worker.pid)


def child_exit(server, worker):
    """A worker ended (even killed): its live gauges go (prometheus_client's ``mark_process_dead``).

    Done here without importing prometheus_client, which would import ``ssl``
    into the master (see above). Its counters stay: they are part of the totals.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        for path in glob.glob(os.path.join(directory, f"gauge_live*_{worker.pid}.db")):
            os.remove(path)


def on_exit(server):
    for directory in _created_dir:
        shutil.rmtree(directory, ignore_errors=True)
