"""A raw TCP server on 127.0.0.1 whose connections each follow a script of the test: HTTP/1 as a test needs it."""

from __future__ import annotations

import socket
import threading


class ScriptedServer:
    """Accepts connections on 127.0.0.1; each is handed to the next script in order."""

    def __init__(self, *scripts):
        self.scripts = list(scripts)
        self.received: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        for script in self.scripts:
            conn, _ = self.sock.accept()
            self.accepted += 1
            with conn:
                script(conn, self)

    def read_request(self, conn) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        self.received.append(head + b"\r\n\r\n" + body)
        return head

    def close(self):
        self.sock.close()
