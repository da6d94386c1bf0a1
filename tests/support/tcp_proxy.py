"""A TCP forwarder whose link can be cut and restored: a database that becomes unreachable, for real.

Cut: every open connection is reset and new ones are closed as soon as they
arrive (the client sees the server go away); restored: it forwards again.
Run as a script (``python tcp_proxy.py HOST:PORT``) it prints its port, then
obeys ``cut`` and ``restore`` lines on stdin until stdin closes.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading


class TcpProxy:
    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.is_cut = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self.is_cut = True
            for sock in self._open:
                _reset(sock)
            self._open.clear()

    def restore(self) -> None:
        self.is_cut = False

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.is_cut:
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with self._lock:
                self._open.discard(sock)
            _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Close with a reset (RST), as a host that went away does to what it had open.

    Shut down first: a plain close() leaves a connection open while another thread is blocked reading it.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


if __name__ == "__main__":
    host, _, port = sys.argv[1].rpartition(":")
    proxy = TcpProxy((host, int(port)))
    print(proxy.port, flush=True)
    for line in sys.stdin:
        {"cut": proxy.cut, "restore": proxy.restore}.get(line.strip(), lambda: None)()
        print("ok", flush=True)
    proxy.close()
