"""``aibridge server``: the gateway on gevent's WSGI server, with a graceful shutdown.

On SIGTERM or SIGINT the server stops accepting connections, closes idle
keep-alive connections, lets in-flight requests finish (at most
``--shutdown-grace``), then runs the plugins' shutdown hooks so every record
is flushed.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import socket
import sys

import gevent
import gevent.socket
from gevent.event import Event
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from .config import Config, ConfigError
from .config.options import option
from .config.values import split_address

log = logging.getLogger("aibridge.server")


# pywsgi drops every header whose name has an underscore (they could pass for
# headers with dashes), but Codex sends its session id as ``session_id``.
KEPT_UNDERSCORE_HEADERS = frozenset({"session_id"})


class DrainingHandler(WSGIHandler):
    """Once the server drains, keep-alive connections close: idle ones now, busy ones after their response."""

    def get_environ(self):
        environ = super().get_environ()
        for line in self.headers.headers:
            name, _, value = line.partition(":")
            if name.strip().lower() in KEPT_UNDERSCORE_HEADERS:
                environ.setdefault("HTTP_" + name.strip().upper(), value.strip())
        return environ

    def read_requestline(self):
        if self.server.draining:
            return ""
        self.server.idle_handlers.add(self)
        try:
            return super().read_requestline()
        finally:
            self.server.idle_handlers.discard(self)

    def finalize_headers(self):
        if self.server.draining:
            self.close_connection = True
        super().finalize_headers()

    def stop_waiting(self) -> None:
        """Wake a handler blocked on reading the next request: it sees the end of the stream."""
        try:
            self.socket.shutdown(socket.SHUT_RD)
        except (OSError, AttributeError):
            pass


class GatewayServer(WSGIServer):
    """A WSGI server whose ``drain()`` finishes in-flight requests before returning."""

    handler_class = DrainingHandler

    def __init__(self, listener, application, **kwargs):
        super().__init__(listener, application, spawn=Pool(), **kwargs)
        self.draining = False
        self.idle_handlers: set[DrainingHandler] = set()

    def drain(self, grace: float) -> None:
        """Stop accepting; give in-flight requests ``grace`` seconds, then cut what is left."""
        self.draining = True
        self.close()
        for handler in list(self.idle_handlers):
            handler.stop_waiting()
        self.pool.join(timeout=grace)
        self.pool.kill(block=True, timeout=1)


def listen(address: str) -> socket.socket:
    """A listening socket on ``host:port``; ConfigError (naming --http-address) when that fails."""
    setting = option("http-address")
    host, port = split_address(address)
    try:
        family, kind, proto, _, sockaddr = gevent.socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        listener = gevent.socket.socket(family, kind, proto)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Accepted connections inherit this: without it Nagle holds back small
            # writes (a response's body after its headers, each SSE event) until an ACK.
            if family in (socket.AF_INET, socket.AF_INET6):
                listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            listener.bind(sockaddr)
            listener.listen(1024)
        except OSError:
            listener.close()
            raise
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"{setting.flag} / {setting.env} {address}: cannot listen: {reason}") from None
    return listener


def serve(config: Config) -> int:
    """Serve until SIGTERM/SIGINT, then shut down gracefully; returns the exit status."""
    from .app import create_app, shutdown_app

    listener = listen(config.http_address)
    try:
        app = create_app(config)
    except BaseException:
        listener.close()
        raise
    server = GatewayServer(
        listener, app, log=logging.getLogger("aibridge.access"), error_log=logging.getLogger("aibridge.http")
    )
    stopping = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    server.start()
    print(startup_banner(config, listener.getsockname()), file=sys.stderr, flush=True)
    stopping.wait()
    log.info("shutting down: waiting up to %gs for in-flight requests", config.shutdown_grace)
    server.drain(config.shutdown_grace)
    shutdown_app(app)
    log.info("stopped")
    return 0


def startup_banner(config: Config, sockaddr) -> str:
    """Where the server listens, where its data lives, and how to get a first token."""
    host, port = sockaddr[0], sockaddr[1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    program = _program_name()
    data_dir = shlex.quote(str(config.data_dir))
    names = ", ".join(p.name for p in config.providers) or "(none)"
    lines = [
        f"aibridge listening on {url}",
        f"  providers: {names}  (clients use {url}/api/v2/ai-gateway/<name>/; /api/v2/aibridge/<name>/ works too)",
        f"  data: {config.data_dir}  (database {config.database_path})",
    ]
    if not config.enabled:
        lines.append("  note: AI Gateway is not enabled; set CODER_AI_GATEWAY_ENABLED=true or --ai-gateway-enabled")
    owner = _first_owner(config)
    if owner is None:
        lines += [
            "  create a first user and token:",
            f"    {program} users create admin --role owner --data-dir {data_dir}",
            f"    {program} tokens create admin --data-dir {data_dir}",
        ]
    else:
        lines.append(f"  create a token:  {program} tokens create {owner} --data-dir {data_dir}")
    return "\n".join(lines)


def _program_name() -> str:
    """How the user ran us, so the printed commands work as typed (e.g. ``.venv/bin/aibridge``)."""
    typed = sys.argv[0] if sys.argv else ""
    return shlex.quote(typed) if os.path.basename(typed) == "aibridge" else "aibridge"


def _first_owner(config: Config) -> str | None:
    from .db import open_database
    from .users import UserStore

    db = open_database(config.database_path)
    try:
        owners = [u.username for u in UserStore(db).list_users() if u.role == "owner"]
    finally:
        db.close()
    return owners[0] if owners else None
