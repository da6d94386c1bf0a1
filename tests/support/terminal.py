"""Run a command with its stdout or stderr on a real terminal (a pseudo-terminal), the other one a pipe."""

from __future__ import annotations

import errno
import os
import pty
import subprocess
import threading
from dataclasses import dataclass


@dataclass
class Ran:
    returncode: int
    terminal: str  # what the command wrote to the terminal (newlines as written, "\r\n" turned back to "\n")
    piped: str  # what it wrote to the other stream


def run_on_terminal(argv: list, env: dict, stream: str = "stdout", timeout: float = 60) -> Ran:
    """Run ``argv`` with ``stream`` ("stdout" or "stderr") on a pseudo-terminal and the other stream piped."""
    controller, terminal = pty.openpty()
    other = "stderr" if stream == "stdout" else "stdout"
    proc = subprocess.Popen([str(arg) for arg in argv], env=env, stdin=subprocess.DEVNULL,
                            **{stream: terminal, other: subprocess.PIPE})  # fmt: skip
    os.close(terminal)
    piped_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: piped_chunks.append(getattr(proc, other).read()), daemon=True)
    reader.start()  # the pipe is read meanwhile, so a full pipe cannot stall the command
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError as error:  # EIO: every end of the terminal is closed (the command ended)
            if error.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    returncode = proc.wait(timeout)
    reader.join(timeout)
    piped = b"".join(piped_chunks).decode()
    return Ran(returncode, b"".join(chunks).decode().replace("\r\n", "\n"), piped)
