"""Real operating-system threads, queues and locks, also under gevent monkey patching.

Once gevent has patched ``threading`` and ``queue``, those modules hand out
greenlets and greenlet-aware queues. Work that blocks in C code (SQLite writes,
busy waits) must run on a real thread instead, or it stalls every request, so
this module reaches for the originals that gevent saved.

A real thread must not call ``logging`` directly under gevent: the handlers'
locks are gevent locks, and contending for them across threads deadlocks.
:class:`ThreadSafeLogger` hands each log call to the gevent hub instead.
"""

from __future__ import annotations

import _queue
import functools
import importlib
import logging
import time

QueueEmpty = _queue.Empty
"""Raised by ``get_nowait()`` on an empty :func:`new_queue`."""


def gevent_patched() -> bool:
    """Whether gevent has monkey patched ``threading`` in this process."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("threading")


def _original(module: str, name: str):
    if gevent_patched():
        from gevent import monkey

        return monkey.get_original(module, name)
    return getattr(importlib.import_module(module), name)


def start_thread(function, *args) -> None:
    """Run ``function(*args)`` on a new operating-system thread."""
    _original("_thread", "start_new_thread")(_marked, (function, args))


_started_threads: set[int] = set()  # OS threads started here (their idents): no gevent hub runs on them


def _marked(function, args) -> None:
    ident = thread_ident()
    _started_threads.add(ident)
    try:
        function(*args)
    finally:
        _started_threads.discard(ident)


def on_started_thread() -> bool:
    """Whether the caller runs on an OS thread of :func:`start_thread` (where blocking in C stalls no greenlet)."""
    return thread_ident() in _started_threads


def new_queue():
    """An unbounded FIFO queue that blocks OS threads, not greenlets (``queue.SimpleQueue``)."""
    return _original("queue", "SimpleQueue")()


def new_lock():
    """A plain OS lock (``_thread.allocate_lock``)."""
    return _original("_thread", "allocate_lock")()


def os_sleep(seconds: float) -> None:
    """Sleep the calling OS thread (``time.sleep`` before patching)."""
    _original("time", "sleep")(seconds)


def thread_ident() -> int:
    """The calling OS thread's identifier, even under gevent."""
    return _original("_thread", "get_ident")()


def cooperative_sleep(seconds: float) -> None:
    """Sleep the way the caller's runtime expects: yields to the hub under gevent."""
    time.sleep(seconds)  # looked up at call time: gevent's version once patched


def wait_for_release(lock) -> None:
    """Take an OS lock another thread will release; under gevent the hub keeps running meanwhile.

    (Other greenlets, and log calls the thread posts to the hub, must go on while we wait.)
    """
    if gevent_patched():
        while not lock.acquire(blocking=False):
            cooperative_sleep(0.005)
    else:
        lock.acquire()


def wait_until(predicate, timeout: float) -> bool:
    """Wait until ``predicate()`` is true (another thread makes it so), at most ``timeout`` seconds.

    Under gevent the hub keeps running meanwhile. For short waits on rare
    events: it polls, from every half millisecond up to every 10 ms.
    """
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        cooperative_sleep(min(pause, remaining))
        pause = min(pause * 2, 0.01)
    return True


class ThreadSafeLogger:
    """Log from an OS thread; under gevent each call runs in a greenlet of the hub's thread.

    Create it on the thread that runs the gevent hub (the app's thread).
    """

    def __init__(self, logger: logging.Logger):
        self._logger = logger
        self._post = self._direct
        self._pending = 0
        self._pending_lock = new_lock()
        if gevent_patched():
            import gevent

            self._loop = gevent.get_hub().loop
            self._spawn = gevent.spawn
            self._post = self._through_hub

    def info(self, msg, *args, **kwargs) -> None:
        self._post(self._logger.info, msg, *args, **kwargs)

    def warning(self, msg, *args, **kwargs) -> None:
        self._post(self._logger.warning, msg, *args, **kwargs)

    def error(self, msg, *args, **kwargs) -> None:
        self._post(self._logger.error, msg, *args, **kwargs)

    def flush(self, timeout: float = 2.0) -> None:
        """From the hub's thread: let the log calls posted so far reach the handlers (within ``timeout``)."""
        for _ in range(int(timeout / 0.001)):
            if not self.pending():
                return
            cooperative_sleep(0.001)

    def pending(self) -> int:
        with self._pending_lock:
            return self._pending

    def _direct(self, method, msg, *args, **kwargs) -> None:
        method(msg, *args, **kwargs)

    def _through_hub(self, method, msg, *args, **kwargs) -> None:
        with self._pending_lock:
            self._pending += 1
        call = functools.partial(self._log_in_greenlet, method, msg, args, kwargs)
        self._loop.run_callback_threadsafe(self._spawn, call)

    def _log_in_greenlet(self, method, msg, args, kwargs) -> None:
        try:
            method(msg, *args, **kwargs)
        finally:
            with self._pending_lock:
                self._pending -= 1


class AppThread:
    """Hand calls from an OS thread back to the app's thread: under gevent each runs in a new greenlet of the hub.

    Create it on the thread that runs the gevent hub (the app's thread, e.g. in
    ``aibridge_startup``). Without gevent there is no such thread to go back
    to: ``call`` runs the function right away, on the caller's thread.
    """

    def __init__(self):
        self._loop = None
        if gevent_patched():
            import gevent

            self._loop = gevent.get_hub().loop
            self._spawn = gevent.spawn

    def call(self, function, *args) -> None:
        """Run ``function(*args)`` on the app's thread soon (never waits for it); its exceptions are its own."""
        if self._loop is None:
            function(*args)
        else:
            self._loop.run_callback_threadsafe(self._spawn, function, *args)


class BackgroundThread:
    """One OS thread that works until :meth:`stop`, reading ``queue``, where ``stop()`` puts ``STOP``.

    ``start(run, log)`` runs ``run()`` on a new OS thread; ``run`` reads
    ``queue`` (its own wake-ups, and ``STOP``) and returns once it takes
    ``STOP``. ``stop()`` asks it to, waits for ``run`` to return (letting the
    gevent hub run meanwhile, so the log calls the thread posts go on), then
    flushes ``log``. The queue and lock are real OS ones (:func:`new_queue`,
    :func:`new_lock`): the wait blocks the thread, not the hub.
    """

    STOP = object()  # put on ``queue`` by stop(): ``run`` returns when it takes it

    def __init__(self):
        self.queue = new_queue()
        self.running = False  # between start() and stop()
        self._done = new_lock()  # held from start() until ``run`` returned
        self._log: ThreadSafeLogger | None = None

    def start(self, run, log: ThreadSafeLogger | None = None) -> None:
        """Run ``run()`` on a new OS thread; ``log``: the thread's logger, flushed by stop()."""
        if not self._done.acquire(blocking=False):  # never wait here: on the hub that would freeze the gateway
            raise RuntimeError("this background thread is running already: stop() it first")
        self._log = log
        self.running = True
        start_thread(self._run, run)

    def stop(self) -> None:
        """Put ``STOP`` on the queue and wait until ``run`` returned (nothing to do when not running)."""
        if not self.running:
            return
        self.running = False
        self.queue.put(self.STOP)
        wait_for_release(self._done)
        self._done.release()  # free again: the thread may be started anew
        if self._log is not None:
            self._log.flush()

    def _run(self, run) -> None:
        try:
            run()
        except BaseException as error:  # said where the thread's owner logs, not lost on stderr
            if self._log is not None:
                self._log.error("background thread stopped: %s", error, exc_info=error)
            raise
        finally:  # stop() waits for this, whatever ``run`` did
            self._done.release()
