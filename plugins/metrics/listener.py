"""The ``/metrics`` endpoint: its own small HTTP server on ``--prometheus-address``.

Under gevent (``aibridge server``, gunicorn's gevent worker) it is a gevent
WSGI server in the hub; otherwise a threaded WSGI server on a daemon thread.
Like Prometheus' own servers, it answers the metrics on every GET path;
scrape ``/metrics``.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import make_wsgi_app


class MetricsListener:
    """A running metrics server; ``address`` is where it listens (the real port when 0 was asked for)."""

    def __init__(self, server, address: tuple[str, int], stop):
        self.server = server
        self.address = address
        self._stop = stop

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/metrics"

    def stop(self) -> None:
        self._stop()


def start_listener(registry, address: str) -> MetricsListener:
    """Serve ``registry`` on ``host:port``; raises OSError when the address cannot be bound."""
    host, port = split_address(address)
    family, sockaddr = _resolve(host, port)
    app = make_wsgi_app(registry)
    if _gevent_patched():
        return _start_gevent(app, sockaddr)
    return _start_thread(app, family, sockaddr)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` to its parts; an empty host means every interface, ``[::1]`` an IPv6 host."""
    host, _, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", int(port)


def _resolve(host: str, port: int) -> tuple[int, tuple]:
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    return family, sockaddr


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # gevent is a dependency; this only keeps the plugin usable without it
        return False
    return monkey.is_module_patched("socket")


def _start_gevent(app, sockaddr) -> MetricsListener:
    from gevent.pywsgi import WSGIServer as GeventWSGIServer

    server = GeventWSGIServer(sockaddr, app, log=None)  # no access log line for every scrape
    server.start()
    bound = server.socket.getsockname()
    return MetricsListener(server, (bound[0], bound[1]), lambda: server.stop(timeout=1))


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def __init__(self, family: int, sockaddr, app):
        self.address_family = family
        super().__init__(sockaddr, _QuietHandler)
        self.set_app(app)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's name in DNS, which can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
        self.setup_environ()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        """No line on stderr for every scrape."""


def _start_thread(app, family: int, sockaddr) -> MetricsListener:
    server = _ThreadingServer(family, sockaddr, app)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="aibridge-metrics", daemon=True
    )
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)

    bound = server.server_address
    return MetricsListener(server, (bound[0], bound[1]), stop)
