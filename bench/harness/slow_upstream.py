"""The slow fake upstream for the idle-stream test: a Chat Completions stream with one event per second.

Run as ``python -m harness.slow_upstream <port>`` (needs gevent). Streams stay
open, one content event per second, until ``POST /control/finish``: then every
stream open at that moment sends its finish, usage and ``[DONE]`` events and
ends normally. ``GET /control/stats`` tells how many streams are open and served.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from . import canned  # noqa: E402

TICK_SECONDS = 1.0
MAX_EVENTS = 900  # a forgotten stream still ends, after 15 minutes

state = {"generation": 0, "open": 0, "started": 0, "finished": 0, "requests": 0}


def _event(obj) -> bytes:
    payload = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


def _stream(generation: int):
    """One slow stream; ends when the finish generation moves past ``generation``."""
    state["open"] += 1
    state["started"] += 1
    try:
        yield _event(canned.openai_chunk({"role": "assistant", "content": "", "refusal": None}))
        sent = 0
        while state["generation"] == generation and sent < MAX_EVENTS:
            gevent.sleep(TICK_SECONDS)
            yield _event(canned.openai_chunk({"content": "tick "}))
            sent += 1
        yield _event(canned.openai_chunk({}, finish_reason="stop"))
        yield _event(canned.openai_usage_chunk())
        yield _event("[DONE]")
        state["finished"] += 1
    finally:
        state["open"] -= 1


def _json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    """WSGI app: the slow stream on any */chat/completions POST, plus two control routes."""
    path = environ["PATH_INFO"]
    environ["wsgi.input"].read()
    if path == "/control/finish":
        state["generation"] += 1
        return _json(start_response, {"generation": state["generation"], "open": state["open"]})
    if path == "/control/stats":
        return _json(start_response, state)
    if path.endswith("/chat/completions") and environ["REQUEST_METHOD"] == "POST":
        state["requests"] += 1
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        return _stream(state["generation"])
    return _json(start_response, {"error": {"message": f"no slow answer for {path}"}}, "404 Not Found")


def main() -> None:
    port = int(sys.argv[1])
    server = WSGIServer(("127.0.0.1", port), app, log=None, backlog=4096)
    server.serve_forever()


if __name__ == "__main__":
    main()
