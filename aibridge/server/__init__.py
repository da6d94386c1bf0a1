"""``aibridge server``: the edge that faces clients.

serve (listen, signals, graceful shutdown), handler (one connection: framing
checks, timeouts, the client watch), connections (the connection cap and the
open-file limit), framing (what a request head must look like), access_log,
reload (SIGHUP: a new configuration without dropping connections).
"""

from .serve import GatewayServer, listen, serve, startup_banner

__all__ = ["GatewayServer", "listen", "serve", "startup_banner"]
