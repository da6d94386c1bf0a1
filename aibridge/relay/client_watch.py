"""Noticing a client that left while the gateway waits on a silent upstream.

A relay blocked on the upstream (a model thinking, a stalled provider) would
notice a departed client only when it next writes to it, or at the upstream
timeout (10 minutes by default), keeping the upstream request running all
that time. So while an interception runs, the gevent hub watches the client's
connection with an I/O watcher: no greenlet, no polling, nothing on the path
of each relayed event. When the connection turns readable, a peek tells why:

- its end (EOF, or a reset): :class:`ClientDisconnected` is thrown into the
  request's greenlet wherever it waits; the relay records the interception
  ``client_disconnected`` and closes the upstream connection;
- bytes (a pipelined next request): nothing can be concluded, the watch stops.

A client that only half-closes its side (shutdown(SHUT_WR)) while still
reading counts as gone; HTTP clients do not do that mid-request. Under TLS
(gunicorn's --certfile) a closing client's close_notify alert arrives as
bytes first: the watch stops without concluding anything.

Cost: arming and stopping the watch takes about 5 µs per interception
(measured on the 2-core benchmark machine); nothing per relayed event.

It needs the client's socket in the WSGI environ and gevent's hub running the
server: ``aibridge server`` (pywsgi; its handler sets
``aibridge.client_socket``) and gunicorn's gevent worker (``gunicorn.socket``).
Elsewhere (a threaded test server) there is no watch.
"""

from __future__ import annotations

import socket

import gevent
from gevent import monkey
from greenlet import GreenletExit

CLIENT_SOCKET = "aibridge.client_socket"  # where `aibridge server` puts the client's socket in the environ
_SOCKET_KEYS = (CLIENT_SOCKET, "gunicorn.socket")
_READ = 1  # libev / libuv: readable
_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT


class ClientDisconnected(GreenletExit):
    """Thrown into a request's greenlet when its client closed the connection.

    Not an ``Exception``: code that handles those (plugin hooks, the upstream's
    error mapping) lets it through to the relay. A GreenletExit: should it land
    in the server's own code (writing to the departed client), pywsgi and
    gunicorn take it for what it is, a request to stop, not a fault to log.
    """


class ClientWatch:
    """Watches one request's client connection until :meth:`stop`."""

    def __init__(self, sock, greenlet, loop):
        # gevent's socket wraps the OS one: peeking at that one never waits (the hub must not).
        self._sock = getattr(sock, "_sock", sock)
        self._greenlet = greenlet
        self._loop = loop
        self._watcher = loop.io(sock.fileno(), _READ)
        self._watcher.start(self._readable)

    def stop(self) -> None:
        """The request is over (or its client gone): nothing more to watch or throw."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
            watcher.close()

    def _readable(self) -> None:
        """In the hub: the client's connection has something to read, or has ended."""
        try:
            ended = self._sock.recv(1, _PEEK) == b""
        except BlockingIOError:
            return  # woken for nothing: keep watching
        except OSError:
            ended = True  # reset by the client
        if not ended:
            self.stop()
            return
        self._watcher.stop()
        self._loop.run_callback(self._throw)

    def _throw(self) -> None:
        # Still watching: the interception has not ended since the client's end was seen.
        if self._watcher is not None:
            self.stop()
            self._greenlet.throw(ClientDisconnected())


def watch_client(environ) -> ClientWatch | None:
    """Watch the client of the current request, when the server runs on gevent and gives its socket."""
    sock = next((environ[key] for key in _SOCKET_KEYS if key in environ), None)
    if sock is None or not monkey.is_module_patched("socket"):
        return None
    return ClientWatch(sock, gevent.getcurrent(), gevent.get_hub().loop)
