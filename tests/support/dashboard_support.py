"""Shared by the dashboard tests: real client sessions replayed through a gateway, and a signed-in browser-less client.

``record_sessions`` replays recorded client traffic (tests/fixtures/clients/)
through a running gateway against the fake upstream, so the sessions the
dashboard shows are what real clients produce:

- alice, Claude Code session ``23a459cd-...``: "list the files here, then
  read does-not-exist.txt" (the model calls Bash and Read), the results
  (Read failed: is_error), then "thanks! now say goodbye": 3 requests in 2
  threads;
- bob, Codex session ``01a23001-3d91-...``: a typed prompt, two
  ``exec_command`` calls and their outputs: 2 requests in 1 thread;
- bob, one Claude Code request the provider refuses (500): a failed request
  whose session is its Claude Code session ``a28f6119-...``.
"""

from __future__ import annotations

import re

import requests
from support.client_recordings import recording, replay
from support.recorder_support import wait_until

ALICE_SESSION = "23a459cd-08fe-4351-8436-4447e4b47558"
BOB_SESSION = "01a23001-3d91-7353-add7-e52382d6bd4a"
BOB_FAILED_SESSION = "a28f6119-ccc1-4d35-a754-4e50b77e9ccb"
ALICE_REPLAYS = ("claude-code/print_tool_use_first_request.json", "claude-code/print_tool_results.json",
                 "claude-code/print_continue_second_prompt.json")
BOB_REPLAYS = ("codex/exec_gpt5codex_first_request.json", "codex/exec_function_call_output.json")
FAILING = "claude-code/interactive_first_request.json"
INTERCEPTIONS = len(ALICE_REPLAYS) + len(BOB_REPLAYS) + 1


def record_sessions(gateway_url: str, upstream, tokens: dict[str, str]) -> None:
    """Replay the sessions above and wait until every interception is recorded and ended."""
    for who, names in (("alice", ALICE_REPLAYS), ("bob", BOB_REPLAYS)):
        for name in names:
            recorded = recording(name)
            upstream.queue(recorded.upstream_answer())
            status, body = replay(gateway_url, recorded, tokens[who])
            assert status == 200, body[:300]
    upstream.queue("anthropic/error_500_api_error")
    status, _ = replay(gateway_url, recording(FAILING), tokens["bob"])
    assert status == 500

    def all_ended():
        answer = api(gateway_url, tokens["olivia"], "/api/v2/aibridge/interceptions", limit=100)
        return answer["count"] == INTERCEPTIONS and all(i["ended_at"] for i in answer["results"])

    wait_until(all_ended, timeout=20, what="every replayed interception to be recorded")


def api(gateway_url: str, token: str | None, path: str, status: int = 200, **params) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = requests.get(gateway_url + path, params=params, headers=headers, timeout=10)
    assert answer.status_code == status, answer.text
    return answer.json()


def form_token(html: str) -> str:
    """The csrf_token of the first form of a page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(gateway_url: str, token: str) -> requests.Session:
    """A requests session signed in to the dashboard as a browser would (the sign-in form and its cookie)."""
    browser = requests.Session()
    page = browser.get(gateway_url + "/login", timeout=10)
    answer = browser.post(gateway_url + "/login", data={"csrf_token": form_token(page.text), "token": token},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return browser
