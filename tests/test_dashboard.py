"""The dashboard over HTTP, without a browser: the sessions API, sign-in and its cookie, who sees what, forms.

The sessions are real client traffic replayed through the gateway
(dashboard_support.py); the browser tests (test_dashboard_browser.py) drive
the same pages in Chromium.
"""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal
from pathlib import Path

import anthropic
import pytest
import requests
from support.dashboard_support import (
    ALICE_SESSION,
    BOB_FAILED_SESSION,
    BOB_SESSION,
    INTERCEPTIONS,
    api,
    form_token,
    record_sessions,
    sign_in,
)
from conftest import STORES
from support.gateway import Gateway, gateway_config
from support.recorder_support import wait_until
from support.budgets_support import budgets_json, refreshed, run_cli

from aibridge.db import open_database
from aibridge.people.users import UserStore
from aibridge_plugins.dashboard.formatting import usd

READ_RESULT = "File does not exist. Note: your current working directory is /work/scratch/run/proj."


def record(gateway, upstream) -> dict[str, str]:
    """Tokens of olivia (owner), alice and bob, and the sessions of dashboard_support recorded through ``gateway``."""
    found = {"olivia": gateway.create_token("olivia", role="owner"), "alice": gateway.create_token("alice"),
             "bob": gateway.create_token("bob")}
    record_sessions(gateway.url, upstream, found)
    return found


@pytest.fixture(scope="module")
def tokens(gateway, upstream):
    return record(gateway, upstream)


@pytest.fixture(scope="module", params=STORES)
def on_store(request, tmp_path_factory, upstream):
    """(gateway, tokens) with the sessions recorded: the module's SQLite gateway, then one on PostgreSQL.

    The tests that exercise the store's queries take this one; the rest (forms, cookies, packaging) run on SQLite.
    """
    if request.param == "sqlite":
        yield request.getfixturevalue("gateway"), request.getfixturevalue("tokens")
        return
    url = request.getfixturevalue("module_postgres_url")
    gateway = Gateway(gateway_config(tmp_path_factory.mktemp("pg"), upstream.url, postgres_url=url))
    try:
        yield gateway, record(gateway, upstream)
    finally:
        gateway.close()


def users(gateway) -> UserStore:
    return UserStore(open_database(gateway.config.database))


# -- the sessions API -------------------------------------------------------------------------------------------


def test_an_owner_lists_every_session_with_its_figures(on_store):
    gateway, tokens = on_store
    answer = api(gateway.url, tokens["olivia"], "/api/v2/ai-gateway/sessions")
    assert answer["count"] == 3 and answer["next_after_id"] is None
    by_id = {session["id"]: session for session in answer["results"]}
    assert list(by_id) == [BOB_FAILED_SESSION, BOB_SESSION, ALICE_SESSION]  # latest activity first
    alice = by_id[ALICE_SESSION]
    assert alice["initiator"]["username"] == "alice" and alice["clients"] == ["Claude Code"]
    assert (alice["thread_count"], alice["requests"], alice["failed"]) == (2, 3, 0)
    assert alice["last_prompt"] == "thanks! now say goodbye"
    assert alice["token_usage"]["output_tokens"] > 0 and alice["duration_ms"] >= 0
    assert by_id[BOB_FAILED_SESSION]["failed"] == 1
    assert by_id[BOB_SESSION]["clients"] == ["Codex"]


def test_a_member_lists_only_their_own_sessions(on_store):
    gateway, tokens = on_store
    answer = api(gateway.url, tokens["alice"], "/api/v2/aibridge/sessions")
    assert [session["id"] for session in answer["results"]] == [ALICE_SESSION]
    answer = api(gateway.url, tokens["alice"], "/api/v2/aibridge/sessions", q="initiator:bob")
    assert answer["results"] == []  # a member's view stays their own, whatever the filter asks


def test_a_session_is_its_threads_with_tool_calls_their_results_and_failures(on_store):
    gateway, tokens = on_store
    session = api(gateway.url, tokens["alice"], f"/api/v2/aibridge/sessions/{ALICE_SESSION}")
    first, second = session["threads"]
    assert first["prompt"]["prompt"] == "list the files here, then read does-not-exist.txt"
    assert [len(thread["interceptions"]) for thread in session["threads"]] == [2, 1]
    calls = {call["tool"]: call for call in first["interceptions"][0]["tool_calls"]}
    assert set(calls) == {"Bash", "Read"}
    assert calls["Read"]["failed"] and calls["Read"]["result"]["is_error"]
    assert calls["Read"]["result"]["content"] == READ_RESULT
    assert not calls["Bash"]["failed"] and calls["Bash"]["result"]["content"] == "notes.txt\nsrc"
    assert not calls["Bash"]["injected"]
    # The follow-up returns those results and carries no prompt: it continues the first thread.
    follow_up = first["interceptions"][1]
    assert follow_up["prompt"] is None and {r["tool_call_id"] for r in follow_up["tool_results"]} == {
        calls["Read"]["tool_call_id"], calls["Bash"]["tool_call_id"]}
    assert second["prompt"]["prompt"] == "thanks! now say goodbye"


def test_a_failed_request_says_why(on_store):
    gateway, tokens = on_store
    session = api(gateway.url, tokens["olivia"], f"/api/v2/aibridge/sessions/{BOB_FAILED_SESSION}")
    (request,) = session["threads"][0]["interceptions"]
    assert request["status"] == "failed"
    assert (request["error"]["kind"], request["error"]["upstream_status"]) == ("upstream_status", 500)


def test_another_persons_session_is_not_found_for_a_member(on_store):
    gateway, tokens = on_store
    answer = api(gateway.url, tokens["alice"], f"/api/v2/ai-gateway/sessions/{BOB_SESSION}", status=404)
    assert answer == {"message": f"no session {BOB_SESSION!r}"}
    assert api(gateway.url, tokens["olivia"], f"/api/v2/ai-gateway/sessions/{BOB_SESSION}")["requests"] == 2


def test_the_api_pages_with_a_cursor_and_filters_by_prompt_text(on_store):
    gateway, tokens = on_store
    first = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions", limit=2)
    assert len(first["results"]) == 2 and first["next_after_id"] == BOB_SESSION
    rest = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions", limit=2, after_id=first["next_after_id"])
    assert [s["id"] for s in rest["results"]] == [ALICE_SESSION] and rest["next_after_id"] is None
    found = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions", q='text:"SAY GOODBYE"')
    assert [s["id"] for s in found["results"]] == [ALICE_SESSION]
    for literal in ("say_goodbye", "say%goodbye", "now\\ say"):  # LIKE's wildcards and escape are plain text
        assert api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions", q=f'text:"{literal}"')["count"] == 0
    found = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions", q="client:Codex")
    assert [s["id"] for s in found["results"]] == [BOB_SESSION]


def test_the_api_refuses_what_the_audit_api_refuses(on_store):
    gateway, tokens = on_store
    api(gateway.url, None, "/api/v2/aibridge/sessions", status=401)
    api(gateway.url, "aib_0000000000000000_" + "x" * 43, f"/api/v2/aibridge/sessions/{ALICE_SESSION}", status=401)
    bad = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions", status=400, q="colour:blue")
    assert bad["validations"][0]["field"] == "q"
    bad = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions", status=400, q="initiator:nobody")
    assert "no user 'nobody'" in bad["message"]
    bad = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions", status=400, after_id="no-such-session")
    assert bad["validations"] == [{"field": "after_id", "detail": "no session 'no-such-session' matches these filters"}]


# -- signing in, the cookie, and what each person may do ------------------------------------------------------------


def test_signing_in_sets_a_signed_httponly_strict_cookie_without_the_token(gateway, tokens):
    browser = requests.Session()
    answer = browser.get(gateway.url + "/sessions", allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")
    page = browser.get(gateway.url + "/login")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    answer = browser.post(gateway.url + "/login", data={"csrf_token": form_token(page.text), "token": tokens["alice"],
                                                        "next": "/usage"}, allow_redirects=False)
    assert (answer.status_code, answer.headers["Location"]) == (302, "/usage")
    cookie = next(c for c in answer.raw.headers.getlist("Set-Cookie") if c.startswith("aibridge_session="))
    assert all(part in cookie for part in ("HttpOnly", "SameSite=Strict", "Max-Age=43200", "Path=/"))
    secret = tokens["alice"].split("_", 2)[2]
    assert secret not in cookie and tokens["alice"] not in cookie
    assert "thanks! now say goodbye" in browser.get(gateway.url + "/sessions").text


def test_sign_in_refuses_a_bad_token_a_missing_form_token_and_a_foreign_next(gateway, tokens):
    browser = requests.Session()
    page = browser.get(gateway.url + "/login")
    answer = browser.post(gateway.url + "/login", data={"csrf_token": form_token(page.text), "token": "aib_nope"})
    assert answer.status_code == 401 and "not valid" in answer.text
    answer = browser.post(gateway.url + "/login", data={"token": tokens["alice"]})
    assert answer.status_code == 400 and "aibridge_session" not in browser.cookies
    page = browser.get(gateway.url + "/login")
    answer = browser.post(gateway.url + "/login", allow_redirects=False, data={
        "csrf_token": form_token(page.text), "token": tokens["alice"], "next": "//evil.example/"})
    assert answer.headers["Location"] == "/sessions"


def test_a_form_without_the_sessions_form_token_is_refused(gateway, tokens):
    browser = sign_in(gateway.url, tokens["alice"])
    before = len(users(gateway).list_tokens("alice"))
    answer = browser.post(gateway.url + "/tokens", data={"label": "sneaky", "lifetime": "7d"})
    assert answer.status_code == 403 and len(users(gateway).list_tokens("alice")) == before
    answer = browser.post(gateway.url + "/tokens", data={"label": "sneaky", "lifetime": "7d",
                                                         "csrf_token": "x" * 32})
    assert answer.status_code == 403


def test_revoking_the_token_ends_the_sessions_signed_in_with_it(on_store):
    gateway, tokens = on_store
    store = users(gateway)
    token_id, token = store.create_token("alice", label="to revoke")
    browser = sign_in(gateway.url, token)
    assert browser.get(gateway.url + "/sessions", allow_redirects=False).status_code == 200
    store.revoke_token(token_id)
    answer = browser.get(gateway.url + "/sessions", allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")


def test_a_member_cannot_open_another_persons_session_records_or_the_admin_pages(on_store):
    gateway, tokens = on_store
    browser = sign_in(gateway.url, tokens["alice"])
    answer = browser.get(gateway.url + f"/sessions/{BOB_SESSION}")
    assert answer.status_code == 404 and "exec_command" not in answer.text
    owner_api = api(gateway.url, tokens["olivia"], f"/api/v2/aibridge/sessions/{BOB_SESSION}")
    result_id = owner_api["threads"][0]["interceptions"][0]["tool_calls"][0]["id"]
    assert browser.get(gateway.url + f"/records/tool_usages/{result_id}").status_code == 404
    for page in ("/admin/people", "/admin/providers", "/admin/people/bob"):
        assert browser.get(gateway.url + page).status_code == 403
    assert "Bob" not in browser.get(gateway.url + "/requests?person=bob").text
    owner = sign_in(gateway.url, tokens["olivia"])
    assert owner.get(gateway.url + f"/records/tool_usages/{result_id}").headers["Content-Type"].startswith("text/plain")


def test_pages_render_the_recorded_sessions_and_say_what_is_wrong_with_a_filter(on_store):
    gateway, tokens = on_store
    owner = sign_in(gateway.url, tokens["olivia"])
    page = owner.get(gateway.url + f"/sessions/{ALICE_SESSION}").text
    assert "Thread 2" in page and READ_RESULT in page and "list the files here" in page
    searched = owner.get(gateway.url + f"/sessions/{ALICE_SESSION}", params={"q": "goodbye"}).text
    assert "1 of 2 threads" in searched and "<mark>goodbye</mark>" in searched
    failed = owner.get(gateway.url + "/requests", params={"status": "failed"}).text
    assert "upstream_status" in failed and failed.count('<tr class="failed">') == 1
    answer = owner.get(gateway.url + "/sessions", params={"since": "yesterday-ish"})
    assert answer.status_code == 400 and "Since:" in answer.text
    answer = owner.get(gateway.url + "/requests", params={"person": "nobody"})
    assert answer.status_code == 400 and "no user &#39;nobody&#39;" in answer.text


def listed(html: str) -> list[str]:
    """The sessions a sessions or requests page lists, in its order (a request's session once)."""
    found = re.findall(r'<a href="/sessions/([^"#?]+)', html)
    return list(dict.fromkeys(found))


def test_each_filter_of_the_sessions_and_requests_pages_narrows_them_and_a_page_starts_after_another(on_store):
    gateway, tokens = on_store
    owner = sign_in(gateway.url, tokens["olivia"])
    everyone = [BOB_FAILED_SESSION, BOB_SESSION, ALICE_SESSION]
    models = {s["id"]: s["models"] for s in api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions")["results"]}
    (codex_model,) = models[BOB_SESSION]
    cases = [
        ({}, everyone),
        ({"person": "bob"}, [BOB_FAILED_SESSION, BOB_SESSION]),
        ({"person": "alice", "client": "Claude Code"}, [ALICE_SESSION]),
        ({"client": "Codex"}, [BOB_SESSION]),
        ({"provider": "openai"}, [BOB_SESSION]),
        ({"model": codex_model}, [BOB_SESSION]),
        ({"since": "1d"}, everyone),
        ({"since": "2020-01-01", "until": "2020-01-02"}, []),
        ({"text": "Say Goodbye"}, [ALICE_SESSION]),
        ({"after": BOB_SESSION}, [ALICE_SESSION]),
        ({"person": "bob", "after": BOB_FAILED_SESSION}, [BOB_SESSION]),
    ]
    for params, expected in cases:
        answer = owner.get(gateway.url + "/sessions", params=params)
        assert answer.status_code == 200 and listed(answer.text) == expected, params
    failed = owner.get(gateway.url + "/requests", params={"person": "bob", "status": "failed"}).text
    assert listed(failed) == [BOB_FAILED_SESSION]
    codex = owner.get(gateway.url + "/requests", params={"provider": "openai"}).text
    assert listed(codex) == [BOB_SESSION] and codex.count("<tr") - 1 == 2  # its two requests (and the header row)
    newest = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/interceptions", limit=1)["results"][0]["id"]
    older = owner.get(gateway.url + "/requests", params={"after": newest}).text
    assert f"#i-{newest}" not in older and older.count('href="/sessions/') == INTERCEPTIONS - 1


def test_the_usage_csv_is_what_the_page_sums(on_store):
    gateway, tokens = on_store
    owner = sign_in(gateway.url, tokens["olivia"])
    answer = owner.get(gateway.url + "/usage.csv", params={"since": "1d"})
    assert answer.headers["Content-Type"].startswith("text/csv")
    header, *rows = answer.text.strip().splitlines()
    assert header.split(",")[:4] == ["day", "model", "person", "interceptions"]
    assert sorted({row.split(",")[2] for row in rows}) == ["alice", "bob"]
    recorded = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/interceptions", q="started_after:1d")["count"]
    assert sum(int(row.split(",")[3]) for row in rows) == recorded
    # What the tokens cost: the same sum as the usage API's, exact (docs/cost.md).
    assert header.split(",")[-2:] == ["cost_usd", "unpriced_records"]
    usage = api(gateway.url, tokens["olivia"], "/api/v2/aibridge/usage", started_after="1d")["totals"]
    assert usage["cost_usd_nanos"] > 0
    assert sum(Decimal(row.split(",")[-2] or 0) for row in rows) * 10**9 == usage["cost_usd_nanos"]
    page = owner.get(gateway.url + "/usage", params={"since": "1d"}).text
    assert f"<dt>Cost</dt><dd>{usd(usage['cost_usd_nanos'])}" in page
    member = sign_in(gateway.url, tokens["alice"]).get(gateway.url + "/usage.csv", params={"since": "1d"})
    assert {row.split(",")[2] for row in member.text.strip().splitlines()[1:]} == {"alice"}
    # The page's Download CSV link carries what the page shows: its person and range.
    page = owner.get(gateway.url + "/usage", params={"person": "bob", "since": "1d", "by": "person"}).text
    link = re.search(r'<a class="button" href="([^"]+)" download>Download CSV</a>', page).group(1).replace("&amp;", "&")
    assert "person=bob" in link and "since=1d" in link
    shown = owner.get(gateway.url + link).text.strip().splitlines()[1:]
    assert {row.split(",")[2] for row in shown} == {"bob"} and sum(int(row.split(",")[3]) for row in shown) == 3


def interception_costs(gateway, token) -> dict[str, int | None]:
    """Each recorded interception's cost as the audit API sums it (its token records), by id."""
    found = api(gateway.url, token, "/api/v2/aibridge/interceptions", limit=100)["results"]
    return {i["id"]: i["cost_usd_nanos"] for i in found}


def test_sessions_requests_and_timelines_show_what_each_cost(on_store):
    gateway, tokens = on_store
    costs = interception_costs(gateway, tokens["olivia"])
    assert all(nanos is not None for nanos in costs.values()) and sum(costs.values()) > 0
    session = api(gateway.url, tokens["olivia"], f"/api/v2/aibridge/sessions/{ALICE_SESSION}")
    requests_ = [r for thread in session["threads"] for r in thread["interceptions"]]
    assert [r["cost_usd_nanos"] for r in requests_] == [costs[r["id"]] for r in requests_]
    for thread in session["threads"]:  # a thread costs its requests, the session its threads: exact integers
        assert thread["cost_usd_nanos"] == sum(r["cost_usd_nanos"] for r in thread["interceptions"])
    assert session["cost_usd_nanos"] == sum(costs[r["id"]] for r in requests_) > 0
    assert session["cost_usd"] == float(Decimal(session["cost_usd_nanos"]) / 10**9)
    listed_ = {s["id"]: s for s in api(gateway.url, tokens["olivia"], "/api/v2/aibridge/sessions")["results"]}
    assert listed_[ALICE_SESSION]["cost_usd_nanos"] == session["cost_usd_nanos"]
    assert listed_[BOB_FAILED_SESSION]["cost_usd_nanos"] == 0  # refused upstream: no token record, nothing spent
    owner = sign_in(gateway.url, tokens["olivia"])
    row = re.search(rf'<tr>\s*<td class="prompt"><a href="/sessions/{ALICE_SESSION}">.*?</tr>',
                    owner.get(gateway.url + "/sessions").text, re.S).group(0)
    assert f'<td class="num cost">{usd(session["cost_usd_nanos"])}</td>' in row
    page = owner.get(gateway.url + f"/sessions/{ALICE_SESSION}").text
    assert f'<dt>Cost</dt><dd class="cost">{usd(session["cost_usd_nanos"])}</dd>' in page
    for thread in session["threads"]:
        assert f'tokens · <span class="cost">{usd(thread["cost_usd_nanos"])}</span></small></h2>' in page
    for request in requests_:
        item = re.search(rf'<li class="request[^"]*" id="i-{request["id"]}">.*?</p>', page, re.S).group(0)
        assert f'<span class="cost">{usd(request["cost_usd_nanos"])}</span>' in item
    listing = owner.get(gateway.url + "/requests").text
    for iid, nanos in costs.items():
        row = re.search(rf'<tr[^>]*>\s*<td><a href="/sessions/[^"#]+#i-{iid}">.*?</tr>', listing, re.S).group(0)
        assert f'<td class="num cost">{usd(nanos)}</td>' in row


def test_usd_per_day_stacks_what_each_person_spent(on_store):
    gateway, tokens = on_store
    owner = sign_in(gateway.url, tokens["olivia"])
    rows = owner.get(gateway.url + "/usage.csv", params={"since": "1d"}).text.strip().splitlines()[1:]
    spent: dict[str, Decimal] = {}
    for row in rows:
        cells = row.split(",")
        spent[cells[2]] = spent.get(cells[2], Decimal(0)) + Decimal(cells[-2] or 0)
    page = owner.get(gateway.url + "/usage", params={"since": "1d", "by": "person", "metric": "usd"}).text
    assert '<option value="usd" selected>USD</option>' in page and "USD per day, by person" in page
    for person, dollars in spent.items():
        assert f'{person} <small class="muted">{usd(int(dollars * 10**9))}</small>' in page
    bars = re.findall(r"<title>[0-9-]+ · (\w+): (\$[0-9.,]+)</title>", page)
    assert {person for person, _ in bars} == set(spent) and all(amount != "$0.00" for _, amount in bars)
    tokens_page = owner.get(gateway.url + "/usage", params={"since": "1d", "by": "person"}).text
    assert "Tokens per day, by person" in tokens_page and " tokens</title>" in tokens_page


def budget_row(html: str, username: str) -> str:
    return re.search(rf'<tr[^>]*>\s*<th scope="row">{username}</th>.*?</tr>', html, re.S).group(0)


def test_owners_manage_groups_and_budgets_and_see_each_persons_spend_against_theirs(on_store):
    gateway, tokens = on_store
    owner = sign_in(gateway.url, tokens["olivia"])
    page = owner.get(gateway.url + "/admin/budgets")
    assert page.status_code == 200 and "Groups and budgets" in page.text and "No groups yet." in page.text
    csrf = form_token(page.text)

    def post(path, expect=200, **form):
        answer = owner.post(gateway.url + path, data={"csrf_token": csrf, **form})
        assert answer.status_code == expect, answer.text
        return answer.text

    post("/admin/budgets/groups", name="eng")
    post("/admin/budgets/groups/eng/members", username="alice")
    post("/admin/budgets/set", scope="group", name="eng", monthly_usd="25")
    post("/admin/budgets/set", scope="default", monthly_usd="10")
    shown = post("/admin/budgets/set", scope="user", name="bob", monthly_usd="$0.505")
    listed_ = budgets_json(gateway.config)  # what the CLI reads from the store: the same rules
    assert {name: (row["budget_usd"], row["budget"]) for name, row in listed_.items()} == {
        "alice": ("25", "group:eng"), "bob": ("0.505", "user"), "olivia": ("10", "default")}
    alice_spent = sum(interception_costs(gateway, tokens["alice"]).values())
    assert Decimal(listed_["alice"]["spent_usd"]) * 10**9 == alice_spent > 0  # recorded this month
    row = budget_row(shown, "alice")
    assert f'<td class="num">{usd(alice_spent)}</td>' in row and '<td class="num">$25.00</td>' in row
    assert "<td>group:eng</td>" in row and f'{listed_["alice"]["used_percent"]:.1f} %' in row
    # A budget reads as it was typed, to the nano-dollar (spend is rounded to the cent).
    assert '<td class="num">$0.505</td>' in budget_row(shown, "bob") and "<strong>$10.00</strong> a month" in shown
    assert re.search(r"<li>alice\s*<form", shown)
    # A person sees their own spend against the budget that applies to them, on their usage page.
    refreshed(gateway)  # as the gateway enforces it: read from the store by its refresh
    mine = sign_in(gateway.url, tokens["alice"]).get(gateway.url + "/usage").text
    assert (f"Your budget this month: <strong>{usd(alice_spent)}</strong> spent of $25.00 "
            '<small class="muted">(group:eng)</small>') in mine
    # What cannot be done is said, and nothing changes.
    assert "is not an amount of US dollars" in post("/admin/budgets/set", 400, scope="user", name="alice",
                                                    monthly_usd="lots")
    assert "unknown user &#39;nobody&#39;" in post("/admin/budgets/groups/eng/members", 400, username="nobody")
    assert "already exists" in post("/admin/budgets/groups", 400, name="eng")
    assert owner.post(gateway.url + "/admin/budgets/groups", data={"name": "sneaky"}).status_code == 403
    post("/admin/budgets/groups/eng/members/alice/remove")
    for scope, name in (("group", "eng"), ("default", ""), ("user", "bob")):
        post("/admin/budgets/unset", scope=scope, name=name)
    post("/admin/budgets/groups/eng/delete")
    assert run_cli(gateway.config, "groups", "list", "--format", "json").strip() in ("", "[]")
    assert all(row["budget_usd"] is None for row in budgets_json(gateway.config).values())


def test_a_member_can_neither_open_nor_post_to_the_budgets_page(on_store):
    gateway, tokens = on_store
    member = sign_in(gateway.url, tokens["alice"])
    assert member.get(gateway.url + "/admin/budgets").status_code == 403
    csrf = form_token(member.get(gateway.url + "/tokens").text)
    answer = member.post(gateway.url + "/admin/budgets/set", data={"csrf_token": csrf, "scope": "default",
                                                                     "monthly_usd": "0"})
    assert answer.status_code == 403 and budgets_json(gateway.config)["alice"]["budget_usd"] is None
    assert "/admin/budgets" not in member.get(gateway.url + "/sessions").text  # not in their navigation


def test_owners_manage_people_but_cannot_lock_themselves_out(on_store):
    gateway, tokens = on_store
    owner = sign_in(gateway.url, tokens["olivia"])
    page = owner.get(gateway.url + "/admin/people")
    answer = owner.post(gateway.url + "/admin/people", data={"csrf_token": form_token(page.text), "username": "dave",
                                                              "email": "", "role": "member"})
    assert answer.url.endswith("/admin/people/dave")
    csrf = form_token(answer.text)
    owner.post(gateway.url + "/admin/people/dave/role", data={"csrf_token": csrf, "role": "owner"})
    owner.post(gateway.url + "/admin/people/dave/status", data={"csrf_token": csrf, "status": "suspended"})
    dave = users(gateway).get_user("dave")
    assert (dave.role, dave.status) == ("owner", "suspended")
    answer = owner.post(gateway.url + "/admin/people/olivia/status", data={"csrf_token": csrf, "status": "suspended"})
    assert answer.status_code == 400 and users(gateway).get_user("olivia").status == "active"


def test_the_cookie_secret_is_the_deployments_own_and_shared_by_its_processes(on_store, upstream):
    gateway, tokens = on_store
    browser = sign_in(gateway.url, tokens["alice"])
    second = Gateway(gateway.config)  # another process of the same deployment: the same database
    try:
        assert browser.get(second.url + "/sessions", allow_redirects=False).status_code == 200
    finally:
        second.close()


def test_ci_installs_the_browser_then_runs_the_readmes_test_command_as_written():
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    (command,) = re.findall(r"Run the tests:\n\n```sh\n(.+)\n```", readme)
    script = (root / ".ci" / "run").read_text()
    assert script.rstrip().endswith("\n" + command)
    assert script.index("apt-get install -y -qq chromium") < script.index(command)


def test_the_installed_package_ships_its_templates_and_stylesheet(installed_venv):
    code = ("import pathlib, aibridge_plugins.dashboard as d; root = pathlib.Path(d.__file__).parent; "
            "print(' '.join(sorted(p.relative_to(root).as_posix() for p in root.rglob('*.*') if p.suffix != '.py')))")
    done = subprocess.run([installed_venv / "python", "-c", code], capture_output=True, text=True, timeout=60)
    shipped = done.stdout.split()
    source = Path(__file__).resolve().parent.parent / "plugins" / "dashboard"
    expected = sorted(p.relative_to(source).as_posix() for p in source.rglob("*.*")
                      if p.suffix in (".html", ".css") and "__pycache__" not in p.parts)
    assert [name for name in shipped if not name.endswith(".pyc")] == expected, done.stderr


def test_docs_show_a_screenshot_of_each_page_that_the_browser_tests_take():
    root = Path(__file__).resolve().parent.parent
    shown = re.findall(r"\]\(images/(dashboard-[a-z]+\.png)\)", (root / "docs" / "dashboard.md").read_text())
    taken = re.findall(r'screenshots / "(dashboard-[a-z]+\.png)"', (root / "tests" / "test_dashboard_browser.py").read_text())
    assert sorted(shown) == sorted(taken) and len(shown) == 10
    for name in shown:  # written by AIBRIDGE_WRITE_SCREENSHOTS=1 python -m pytest tests/test_dashboard_browser.py
        assert (root / "docs" / "images" / name).stat().st_size < 200_000, name


def test_what_a_person_typed_is_shown_as_text_never_as_markup(on_store, upstream):
    gateway, tokens = on_store
    typed = '<script>alert("x")</script> & <b>bold</b>'
    upstream.queue("anthropic/blocking_text")
    client = anthropic.Anthropic(api_key=tokens["bob"], base_url=gateway.bridge_url("anthropic"), max_retries=0)
    client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": typed}])
    found = wait_until(lambda: api(gateway.url, tokens["bob"], "/api/v2/aibridge/sessions", q="text:alert")["results"],
                       what="the request to be recorded")
    page = sign_in(gateway.url, tokens["bob"]).get(gateway.url + f"/sessions/{found[0]['id']}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<script>" not in page and "<b>bold" not in page


def test_a_model_without_a_price_reads_unpriced_never_zero(on_store, upstream):
    gateway, tokens = on_store  # last: it records one more request
    upstream.queue("anthropic/blocking_text")
    client = anthropic.Anthropic(api_key=tokens["bob"], base_url=gateway.bridge_url("anthropic"), max_retries=0)
    client.messages.create(model="claude-nobody-prices-9", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    found = wait_until(lambda: api(gateway.url, tokens["bob"], "/api/v2/aibridge/interceptions",
                                   q="model:claude-nobody-prices-9")["results"], what="the request to be recorded")
    assert found[0]["cost_usd_nanos"] is None and found[0]["unpriced_records"] == 1
    browser = sign_in(gateway.url, tokens["bob"])
    listing = browser.get(gateway.url + "/requests", params={"model": "claude-nobody-prices-9"}).text
    cell = re.search(r'<td class="num cost">(.*?)</td>', listing, re.S).group(1)
    assert "unpriced" in cell and "$" not in cell
    page = browser.get(gateway.url + "/sessions", params={"model": "claude-nobody-prices-9"}).text
    assert re.search(r'<td class="num cost"><span class="unpriced"[^>]*>unpriced</span></td>', page)
    usage = browser.get(gateway.url + "/usage", params={"since": "1d", "by": "model", "metric": "usd"}).text
    legend = re.search(r'</svg> claude-nobody-prices-9 <small class="muted">(.*?)</small></li>', usage, re.S).group(1)
    assert "unpriced" in legend and "$" not in legend
    # bob's other requests were priced: his stack reads their cost and how many records it leaves out.
    by_person = browser.get(gateway.url + "/usage", params={"since": "1d", "by": "person", "metric": "usd"}).text
    legend = re.search(r'</svg> bob <small class="muted">(.*?)</small></li>', by_person, re.S).group(1)
    assert legend.startswith("$") and legend.endswith(">+1 unpriced</small>") and 'title="1 token record has no price' in legend


def test_a_budget_set_on_the_page_refuses_the_next_request_and_removing_it_lets_them_through(gateway, tokens,
                                                                                            upstream):
    erin = gateway.create_token("erin")  # last: it records requests
    client = anthropic.Anthropic(api_key=erin, base_url=gateway.bridge_url("anthropic"), max_retries=0)
    owner = sign_in(gateway.url, tokens["olivia"])
    csrf = form_token(owner.get(gateway.url + "/admin/budgets").text)
    page = owner.post(gateway.url + "/admin/budgets/set", data={"csrf_token": csrf, "scope": "user", "name": "erin",
                                                                "monthly_usd": "0"})
    assert '<td class="num">$0.00</td>' in budget_row(page.text, "erin")
    refreshed(gateway)
    with pytest.raises(anthropic.PermissionDeniedError, match="budget exceeded: erin has spent"):
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "hi"}])
    owner.post(gateway.url + "/admin/budgets/unset", data={"csrf_token": csrf, "scope": "user", "name": "erin"})
    refreshed(gateway)
    upstream.queue("anthropic/blocking_text")
    client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": "hi"}])


def test_without_the_budgets_plugin_the_budgets_page_says_so_and_changes_nothing(tmp_path, upstream):
    gateway = Gateway(gateway_config(tmp_path, upstream.url, disable_plugins=("budgets",)))
    try:
        owner = sign_in(gateway.url, gateway.create_token("olivia", role="owner"))
        page = owner.get(gateway.url + "/admin/budgets")
        assert page.status_code == 200 and "The budgets plugin is not enabled" in page.text
        answer = owner.post(gateway.url + "/admin/budgets/groups", data={"csrf_token": form_token(page.text),
                                                                         "name": "eng"})
        assert answer.status_code == 404
        assert "own-budget" not in owner.get(gateway.url + "/usage").text
    finally:
        gateway.close()
