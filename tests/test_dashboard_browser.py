"""The dashboard in a real browser: headless Chromium against ``aibridge server`` (gevent), on real client sessions.

One browser for the module, one page per person, reused from test to test
(in order). Each test ends with no console error, failed request or
uncaught exception on either page. The screenshots docs/dashboard.md shows
are taken here (AIBRIDGE_WRITE_SCREENSHOTS=1 writes them to docs/images/).
"""

from __future__ import annotations

import re

import pytest
from support.browser import DOCS_IMAGES, WRITE_SCREENSHOTS, ConsoleErrors, chromium_or_skip, launch
from support.dashboard_support import ALICE_SESSION, BOB_SESSION, record_sessions
from support.server_process import Server
from support.recorder_support import user_with_token

CHROMIUM = chromium_or_skip()

from playwright.sync_api import expect, sync_playwright  # noqa: E402  (after the skip: only with a browser)

DESKTOP = {"width": 1200, "height": 760}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    return DOCS_IMAGES if WRITE_SCREENSHOTS else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def server(tmp_path_factory, upstream):
    root = tmp_path_factory.mktemp("dashboard")
    data_dir = root / "data"
    data_dir.mkdir(mode=0o700)
    tokens = {name: user_with_token(data_dir / "aibridge.db", name, role)[1]
              for name, role in (("olivia", "owner"), ("alice", "member"), ("bob", "member"))}
    gateway = Server(data_dir, upstream.url, root, ("--aibridge-openai-base-url", upstream.url + "/v1",
                                                     "--aibridge-openai-key", "sk-openai-browser-test",
                                                     "--aibridge-max-retries", "0"))
    record_sessions(gateway.url, upstream, tokens)
    gateway.tokens = tokens
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch(playwright, CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def errors():
    return ConsoleErrors()


def new_page(browser, errors, viewport=DESKTOP):
    page = browser.new_context(viewport=viewport).new_page()
    errors.watch(page)
    return page


@pytest.fixture(scope="module")
def owner(browser, errors):
    return new_page(browser, errors)


@pytest.fixture(scope="module")
def member(browser, errors):
    return new_page(browser, errors)


@pytest.fixture(autouse=True)
def no_console_errors(errors):
    errors.take()
    yield
    assert errors.take() == []


def sign_in(page, server, token):
    page.goto(server.url + "/sessions")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_label("Gateway token")).to_be_focused()  # typing is all it takes
    page.keyboard.type(token)
    page.keyboard.press("Enter")
    expect(page).to_have_url(server.url + "/sessions")


def session_rows(page):
    return page.locator("table.sessions tbody tr")


def test_an_owner_signs_in_with_the_keyboard_and_filters_the_sessions(owner, server, screenshots):
    sign_in(owner, server, server.tokens["olivia"])
    expect(session_rows(owner)).to_have_count(3)
    expect(owner.get_by_role("link", name="thanks! now say goodbye")).to_be_visible()
    owner.screenshot(path=screenshots / "dashboard-sessions.png")
    owner.keyboard.press("Tab")
    expect(owner.get_by_role("link", name="Skip to content")).to_be_focused()
    owner.keyboard.press("Enter")
    expect(owner.locator("main")).to_be_focused()
    owner.get_by_label("Client").fill("Codex")
    owner.get_by_label("Client").press("Enter")
    expect(session_rows(owner)).to_have_count(1)
    expect(session_rows(owner).first).to_contain_text("bob")
    owner.get_by_role("link", name="Reset").click()
    owner.get_by_label("Text in prompts").fill("goodbye")
    owner.get_by_role("button", name="Filter").click()
    expect(session_rows(owner)).to_have_count(1)
    expect(session_rows(owner).first).to_contain_text("alice")


def test_a_session_is_a_timeline_of_threads_with_tool_calls_results_and_failures(owner, server, screenshots):
    owner.get_by_role("link", name="thanks! now say goodbye").click()
    expect(owner).to_have_url(server.url + f"/sessions/{ALICE_SESSION}")
    expect(owner.get_by_role("heading", name=re.compile(r"^Thread \d"))).to_have_count(2)
    read = owner.locator("li.call", has=owner.locator("code.tool", has_text="Read"))
    expect(read.locator(".badge.bad")).to_have_text("failed")
    expect(read.get_by_text("File does not exist.")).to_be_visible()  # a failed result is shown open
    bash = owner.locator("li.call", has=owner.locator("code.tool", has_text="Bash"))
    bash.locator("summary", has_text="Result").click()
    expect(bash.locator("details pre").last).to_have_text("notes.txt\nsrc")
    owner.screenshot(path=screenshots / "dashboard-session.png", full_page=True)
    owner.get_by_label("Search this session").fill("does-not-exist")
    owner.get_by_label("Search this session").press("Enter")
    expect(owner.get_by_text("1 of 2 threads mention")).to_be_visible()
    expect(owner.locator("mark").first).to_have_text("does-not-exist")


def test_requests_show_why_one_failed_and_usage_charts_and_downloads(owner, server, screenshots):
    owner.get_by_role("link", name="Requests", exact=True).click()
    expect(owner.locator("table.requests tbody tr")).to_have_count(6)
    failed = owner.locator("table.requests tbody tr.failed")
    expect(failed).to_have_count(1)
    expect(failed.locator(".reason")).to_contain_text("upstream_status (500)")
    owner.screenshot(path=screenshots / "dashboard-requests.png")
    owner.get_by_label("Status").select_option("completed")
    owner.get_by_role("button", name="Filter").click()
    expect(owner.locator("table.requests tbody tr")).to_have_count(5)
    owner.get_by_role("link", name="Usage", exact=True).click()
    expect(owner.locator("svg.chart rect").first).to_be_visible()
    owner.get_by_label("Stack by").select_option("person")
    owner.get_by_label("Show").select_option("usd")
    owner.get_by_role("button", name="Filter").click()
    expect(owner.locator("ul.legend li")).to_have_count(2)
    expect(owner.locator("figcaption")).to_contain_text("USD per day, by person")
    expect(owner.locator("svg.chart rect title").first).to_contain_text("$")
    expect(owner.locator("table", has_text="Top people").locator("tbody th")).to_have_text(["alice", "bob"])
    owner.screenshot(path=screenshots / "dashboard-usage.png", full_page=True)
    with owner.expect_download() as download:
        owner.get_by_role("link", name="Download CSV").click()
    rows = download.value.path().read_text().splitlines()
    assert rows[0].startswith("day,model,person,interceptions") and len(rows) > 2


def test_an_owner_adds_a_person_issues_and_revokes_their_token_and_sees_the_providers(owner, server, screenshots):
    owner.get_by_role("link", name="People", exact=True).click()
    owner.get_by_label("Username").fill("carol")
    owner.get_by_role("button", name="Add").click()
    expect(owner.get_by_role("heading", name="carol", exact=True)).to_be_visible()
    owner.get_by_label("Label").fill("carol's laptop")
    owner.get_by_role("button", name="Create a token").click()
    token = owner.get_by_label("Token", exact=True)
    expect(token).to_have_value(re.compile(r"^aib_[0-9a-f]{16}_"))
    owner.screenshot(path=screenshots / "dashboard-person.png")
    owner.get_by_role("button", name=re.compile("^Revoke token")).click()
    expect(owner.locator("table.tokens .badge")).to_have_text("revoked")
    expect(owner.get_by_label("Token", exact=True)).to_have_count(0)  # shown once, never again
    owner.get_by_role("navigation").get_by_role("link", name="People").click()
    owner.get_by_label("Role of carol").select_option("owner")
    owner.locator("tr", has_text="carol").get_by_role("button", name="Set role").click()
    owner.get_by_role("button", name="Suspend carol").click()
    carol = owner.locator("tr", has_text="carol")
    expect(carol.get_by_label("Role of carol")).to_have_value("owner")
    expect(carol.locator(".badge")).to_have_text("suspended")
    owner.screenshot(path=screenshots / "dashboard-people.png")
    owner.get_by_role("navigation").get_by_role("link", name="Providers").click()
    expect(owner.get_by_role("heading", name=re.compile("^anthropic"))).to_be_visible()
    expect(owner.locator("table", has_text="Keys").first.locator(".badge")).to_have_text("valid")
    owner.screenshot(path=screenshots / "dashboard-providers.png")


def test_an_owner_changes_a_budget_and_sees_it_applied(owner, server, screenshots):
    owner.get_by_role("navigation").get_by_role("link", name="Budgets").click()
    expect(owner.get_by_role("heading", name="Groups and budgets")).to_be_visible()
    alice = owner.locator("table.budgets tbody tr", has_text="alice")
    expect(alice.locator("td").nth(1)).to_have_text("none")
    owner.get_by_label("Monthly USD of alice").fill("0.01")
    owner.get_by_label("Monthly USD of alice").press("Enter")  # the keyboard is enough
    alice = owner.locator("table.budgets tbody tr", has_text="alice")
    expect(alice.locator("td").nth(1)).to_have_text("$0.01")
    expect(alice.locator("td").nth(2)).to_have_text("user")
    expect(alice.locator("td").nth(3)).to_have_text(re.compile(r"\b\d+\.\d %$"))
    owner.get_by_label("New group").fill("eng")
    owner.get_by_role("button", name="Create group").click()
    owner.get_by_label("Person to add to eng").fill("bob")
    owner.get_by_role("button", name="Add to eng").click()
    owner.get_by_label("Monthly USD of group eng").fill("25")
    owner.get_by_role("button", name="Set the budget of group eng").click()
    expect(owner.locator("table.groups tbody tr", has_text="eng")).to_contain_text("$25.00")
    bob = owner.locator("table.budgets tbody tr", has_text="bob")
    expect(bob.locator("td").nth(2)).to_have_text("group:eng")
    owner.screenshot(path=screenshots / "dashboard-budgets.png", full_page=True)
    owner.get_by_role("button", name="Remove the budget of alice").click()
    expect(owner.locator("table.budgets tbody tr", has_text="alice").locator("td").nth(1)).to_have_text("none")
    owner.set_viewport_size(PHONE)
    assert owner.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    owner.set_viewport_size(DESKTOP)


def test_a_member_sees_only_their_own_and_manages_their_own_tokens(member, server, screenshots, errors):
    sign_in(member, server, server.tokens["alice"])
    expect(session_rows(member)).to_have_count(1)
    expect(member.get_by_role("link", name="People")).to_have_count(0)
    answer = member.goto(server.url + f"/sessions/{BOB_SESSION}")  # by URL: as if it did not exist
    assert answer.status == 404
    expect(member.get_by_text("no such session")).to_be_visible()
    answer = member.goto(server.url + "/admin/people")
    assert answer.status == 403
    # The browser reports the two refusals it was sent to, and nothing else.
    assert [re.sub(r".*status of ", "", error) for error in errors.take()] == ["404 (NOT FOUND)", "403 (FORBIDDEN)"]
    member.get_by_role("link", name="Tokens").click()
    member.get_by_label("Label").fill("second laptop")
    member.get_by_label("Lifetime").select_option("7d")
    member.get_by_role("button", name="Create a token").click()
    expect(member.get_by_label("Token", exact=True)).to_have_value(re.compile(r"^aib_"))
    member.screenshot(path=screenshots / "dashboard-tokens.png")
    new_row = member.locator("table.tokens tr", has_text="second laptop")
    new_row.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(member.locator("table.tokens tr", has_text="second laptop").locator(".badge")).to_have_text("revoked")
    expect(member.locator("table.tokens tr", has_text="this session").locator(".badge")).to_have_text("active")
    member.get_by_role("link", name="Usage", exact=True).click()  # bob's group has a budget; alice has none
    expect(member.locator(".own-budget")).to_contain_text("No monthly budget limits you")


def test_at_phone_width_nothing_spills_sideways(member, server, screenshots):
    member.set_viewport_size(PHONE)
    member.goto(server.url + f"/sessions/{ALICE_SESSION}")
    expect(member.get_by_role("heading", name=re.compile(r"^Thread 1"))).to_be_visible()
    assert member.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    member.screenshot(path=screenshots / "dashboard-phone.png")
    member.goto(server.url + "/sessions")
    assert member.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    member.set_viewport_size(DESKTOP)


def test_signing_out_ends_the_session(member, server):
    member.get_by_role("button", name="Sign out").click()
    expect(member).to_have_url(server.url + "/login")
    member.goto(server.url + "/usage")
    expect(member).to_have_url(server.url + "/login?next=/usage")
