"""``aibridge server``: the gateway on gevent's WSGI server, with a graceful shutdown and reload.

On SIGTERM or SIGINT the server stops accepting connections, closes idle
keep-alive connections, lets in-flight requests finish (at most
``--shutdown-grace``), then runs the plugins' shutdown hooks so every record
is flushed. On SIGHUP it reloads its configuration (:mod:`.reload`).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import socket
import sys
from typing import Callable

import gevent
import gevent.socket
from gevent.event import Event
from gevent.pool import Pool
from gevent.pywsgi import WSGIServer

from ..config import Config, ConfigError
from ..config.options import option
from ..config.values import split_address
from ..db import display_target
from .connections import ConnectionTracker, EdgeLimits, raise_open_file_limit, refuse_at_capacity
from .handler import GatewayHandler
from ..interpreter import settle_for_serving
from ..logs import ACCESS_LOGGER
from ..provider_keys import ready, without_key
from .reload import reload_configuration

log = logging.getLogger("aibridge.server")


class GatewayServer(WSGIServer):
    """A WSGI server that holds its edge limits and whose ``drain()`` finishes in-flight requests first.

    ``log`` is the access logger (None: no access lines, see :mod:`.access_log`).
    """

    handler_class = GatewayHandler

    def __init__(self, listener, application, limits: EdgeLimits | None = None, log: logging.Logger | None = None,
                 **kwargs):
        super().__init__(listener, application, spawn=Pool(), log=None, **kwargs)
        self.access_log = log
        self.draining = False
        self.limits = limits or EdgeLimits()
        self.connections = ConnectionTracker()

    def handle(self, sock, address):
        if not self.connections.make_room(self.limits.max_connections):
            refuse_at_capacity(sock, self.limits.max_connections)
            return
        handler = self.handler_class(sock, address, self)
        self.connections.opened(handler)
        try:
            handler.handle()
        finally:
            self.connections.closed(handler)

    def drain(self, grace: float) -> None:
        """Stop accepting; give in-flight requests ``grace`` seconds, then cut what is left.

        Cutting kills a request's greenlet (GreenletExit): an interception ends its
        answer with an error event in its API's form and is recorded gateway_shutdown.
        """
        self.draining = True
        self.close()
        for handler in self.connections.waiting():
            handler.stop_waiting()
        self.pool.join(timeout=grace)
        if len(self.pool):
            log.warning("cutting %d request(s) still running after the shutdown grace period", len(self.pool))
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


def serve(config: Config, load_config: Callable[[], Config] | None = None) -> int:
    """Serve until SIGTERM/SIGINT, then shut down gracefully; returns the exit status.

    On SIGHUP, ``load_config`` (by default: the environment and its YAML file)
    gives the configuration to reload.
    """
    from ..app import create_app, shutdown_app
    from ..config.loader import load_config as load_from_environment

    raise_open_file_limit()
    listener = listen(config.http_address)
    try:
        app = create_app(config)
    except BaseException:
        listener.close()
        raise
    settle_for_serving()
    limits = EdgeLimits.from_config(config)
    server = GatewayServer(
        listener, app, limits, log=logging.getLogger(ACCESS_LOGGER), error_log=logging.getLogger("aibridge.http")
    )
    stopping = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    load = load_config or load_from_environment
    gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(reload_configuration, app, server, load))
    server.start()
    print(startup_banner(config, listener.getsockname()), file=sys.stderr, flush=True)
    log.info("client connections: at most %d open; header timeout %gs, idle %gs, write %gs",
             limits.max_connections, limits.header_timeout, limits.idle_timeout, limits.write_timeout)
    stopping.wait()
    grace = app.extensions["aibridge"].config.shutdown_grace  # as last reloaded
    log.info("shutting down: waiting up to %gs for in-flight requests", grace)
    server.drain(grace)
    shutdown_app(app)
    log.info("stopped")
    return 0


def startup_banner(config: Config, sockaddr) -> str:
    """Where the server listens, where its data lives, and how to get a first token."""
    host, port = sockaddr[0], sockaddr[1]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    program = _program_name()
    # Where the commands find the same users: the data directory, or the database every instance shares.
    where = ('--postgres-url "$CODER_PG_CONNECTION_URL"' if config.postgres_url
             else f"--data-dir {shlex.quote(str(config.data_dir))}")
    names = ", ".join(p.name for p in ready(config)) or "(none ready)"
    lines = [
        f"aibridge listening on {url}",
        f"  providers: {names}  (clients use {url}/api/v2/ai-gateway/<name>/; /api/v2/aibridge/<name>/ works too)",
    ]
    if without_key(config):
        lines.append(f"  not ready (no key, BYOK off; see the warnings): {', '.join(p.name for p in without_key(config))}")
    lines.append(f"  data: {config.data_dir}  (database {display_target(config.database)})")
    if not config.enabled:
        lines.append("  note: AI Gateway is not enabled; set CODER_AI_GATEWAY_ENABLED=true or --ai-gateway-enabled")
    owner = _first_owner(config)
    if owner is None:
        lines += [
            "  create a first user and token:",
            f"    {program} users create admin --role owner {where}",
            f"    {program} tokens create admin {where}",
        ]
    else:
        lines.append(f"  create a token:  {program} tokens create {owner} {where}")
    return "\n".join(lines)


def _program_name() -> str:
    """How the user ran us, so the printed commands work as typed (e.g. ``.venv/bin/aibridge``)."""
    typed = sys.argv[0] if sys.argv else ""
    return shlex.quote(typed) if os.path.basename(typed) == "aibridge" else "aibridge"


def _first_owner(config: Config) -> str | None:
    from ..db import open_database
    from ..people.users import UserStore

    db = open_database(config.database)
    try:
        owners = [u.username for u in UserStore(db).list_users() if u.role == "owner"]
    finally:
        db.close()
    return owners[0] if owners else None
