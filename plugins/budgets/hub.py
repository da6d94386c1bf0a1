"""Run a function on the thread of the gevent hub (where requests and hooks run) from a background OS thread."""

from __future__ import annotations

from typing import Callable


class HubCaller:
    """Create it on the hub's thread; ``call(function)`` from any thread runs ``function`` in a new greenlet there.

    Without gevent (a threaded test server) the function runs on the calling thread.
    """

    def __init__(self):
        self._post: Callable[[Callable[[], None]], None] = lambda function: function()
        from gevent import monkey

        if monkey.is_module_patched("threading"):
            import gevent

            loop, spawn = gevent.get_hub().loop, gevent.spawn
            self._post = lambda function: loop.run_callback_threadsafe(spawn, function)

    def call(self, function: Callable[[], None]) -> None:
        self._post(function)
