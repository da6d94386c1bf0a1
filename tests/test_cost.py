"""What tokens cost: every recorded fixture priced through the gateway, admin prices, unpriced models.

Prices by hand (the providers' public lists, as genai-prices bundles them), in
nano-dollars per token (USD per million tokens × 1000):

- claude-sonnet-4-5 (Anthropic): in $3, out $15, cache read $0.30, cache write $3.75
- gpt-4o (OpenAI): in $2.50, out $10, cached input $1.25 (no cache writes)
- claude-sonnet-4-5 on Bedrock, region-prefixed (regional endpoints cost 10 % more):
  in $3.30, out $16.50, cache read $0.33, cache write $4.125
"""

from __future__ import annotations

import decimal
import json
import random
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest
import requests
from click.testing import CliRunner
from support.bedrock_support import SONNET as BEDROCK_SONNET
from support.bedrock_support import bedrock, bedrock_provider  # noqa: F401 (bedrock: a fixture)
from support.fakebedrock import invoke_answer, stream_answer
from support.fakeupstream import load_fixture
from support.gateway import Gateway, RecordCollector, gateway_config
from support.metrics_support import metrics_url, scrape
from support.recorder_support import wait_until

from aibridge.cli import build_cli
from aibridge.config import ProviderConfig
from aibridge.cost import Price, cost_nanos
from aibridge.cost.admin import PriceError, parse_rate
from aibridge.cost.book import PriceBook
from aibridge.cost.library import library_price
from aibridge.cost.price import Tier
from aibridge.records import TokenUsage

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE = "claude-sonnet-4-5-20250929"
GPT = "gpt-4o-2024-08-06"
HELLO = [{"role": "user", "content": "Say hello."}]

# nano-dollars per token: input, output, cache read, cache write
BY_HAND = {
    CLAUDE: (3_000, 15_000, 300, 3_750),
    GPT: (2_500, 10_000, 1_250, 2_500),
    BEDROCK_SONNET: (3_300, 16_500, 330, 4_125),
}


def fixture_documents(name: str) -> list[dict]:
    """The JSON documents of a fixture: each SSE event's data, or the whole body."""
    body = load_fixture(name).body_bytes().decode()
    if body.lstrip().startswith("{"):
        return [json.loads(body)]
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]


def billed(name: str) -> tuple[int, int, int, int] | None:
    """(input, output, cache read, cache write) as the provider bills them, read from the fixture by hand.

    Anthropic's input_tokens leaves out the cache; OpenAI's prompt / input tokens include the cached ones.
    """
    docs = fixture_documents(name)
    if name.startswith("anthropic/"):
        usage = {}
        for doc in docs:
            usage.update({k: v for k, v in ((doc.get("message") or {}).get("usage") or doc.get("usage") or {}).items()
                          if v is not None})
        if not usage:
            return None
        return (usage.get("input_tokens", 0), usage.get("output_tokens", 0), usage.get("cache_read_input_tokens", 0),
                usage.get("cache_creation_input_tokens", 0))
    usages = [doc.get("usage") or (doc.get("response") or {}).get("usage") for doc in docs]
    usages = [usage for usage in usages if usage]
    if not usages:
        return None
    usage = usages[-1]
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    cached = details.get("cached_tokens") or 0
    return prompt - cached, completion, cached, 0


def by_hand(model: str, tokens: tuple[int, int, int, int]) -> int:
    return sum(count * rate for count, rate in zip(tokens, BY_HAND[model]))


def fixtures_with_usage(prefix: str) -> list[str]:
    names = sorted(f"{path.parent.name}/{path.stem}" for path in (FIXTURES / prefix.split("/")[0]).glob("*.http"))
    return [name for name in names if name.startswith(prefix) and billed(name) is not None]


ANTHROPIC_FIXTURES = fixtures_with_usage("anthropic/")
CHAT_FIXTURES = fixtures_with_usage("openai/chat_")
RESPONSES_FIXTURES = fixtures_with_usage("openai/responses_")


def test_every_fixture_with_usage_is_covered():
    assert len(ANTHROPIC_FIXTURES) >= 12 and len(CHAT_FIXTURES) >= 6 and len(RESPONSES_FIXTURES) >= 8
    cached = [name for name in ANTHROPIC_FIXTURES + CHAT_FIXTURES + RESPONSES_FIXTURES if billed(name)[2]]
    assert len(cached) >= 4  # cache reads of each API, and Anthropic's cache writes
    assert any(billed(name)[3] for name in ANTHROPIC_FIXTURES)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, upstream, bedrock):
    providers = (
        ProviderConfig(type="anthropic", name="anthropic", base_url=upstream.url, keys=("sk-ant-upstream-key",)),
        ProviderConfig(type="openai", name="openai", base_url=upstream.url + "/v1", keys=("sk-openai-upstream-key",)),
        bedrock_provider("bedrock", bedrock.url),
    )
    with Gateway(gateway_config(tmp_path_factory.mktemp("data"), upstream.url, providers=providers,
                                prometheus_enable=True, prometheus_address="127.0.0.1:0")) as gw:
        gw.prices = gw.app.extensions["aibridge"].prices
        gw.prices.refresh_interval = 0.2  # admin prices reach the running gateway within this (3 s by default)
        yield gw


@pytest.fixture
def collector(collector, bedrock):
    """conftest's collector (the upstream starts empty), and the fake Bedrock starts empty too."""
    bedrock.reset()
    return collector


def anthropic_call(gateway, token, provider: str, streaming: bool, model: str = CLAUDE) -> None:
    client = anthropic.Anthropic(api_key=token, base_url=gateway.bridge_url(provider), max_retries=0)
    try:
        if streaming:
            for _event in client.messages.create(model=model, max_tokens=1024, messages=HELLO, stream=True):
                pass
        else:
            client.messages.create(model=model, max_tokens=1024, messages=HELLO)
    except anthropic.APIError:
        pass  # a fixture whose stream breaks off (its usage so far is still billed)


def openai_client(gateway, token) -> openai.OpenAI:
    return openai.OpenAI(api_key=token, base_url=gateway.bridge_url("openai") + "/v1", max_retries=0)


def recorded_cost(collector) -> int:
    [end] = collector.wait_for_ends()
    usages = collector.of("token_usage")
    assert usages and all(usage.cost_usd_nanos is not None for usage in usages)
    return sum(usage.cost_usd_nanos for usage in usages)


@pytest.mark.parametrize("fixture", ANTHROPIC_FIXTURES)
def test_anthropic_fixture_costs_the_formula(gateway, token, upstream, collector, fixture):
    upstream.queue(fixture)
    anthropic_call(gateway, token, "anthropic", streaming="/stream_" in fixture)
    assert recorded_cost(collector) == by_hand(CLAUDE, billed(fixture))


@pytest.mark.parametrize("fixture", ANTHROPIC_FIXTURES)
def test_bedrock_fixture_costs_the_formula_at_bedrock_prices(gateway, token, bedrock, collector, fixture):
    streaming = "/stream_" in fixture
    bedrock.queue(stream_answer(fixture) if streaming else invoke_answer(fixture))
    anthropic_call(gateway, token, "bedrock", streaming, model="claude-sonnet-4-6")
    [start] = collector.of("interception_start")
    assert start.model == BEDROCK_SONNET
    assert recorded_cost(collector) == by_hand(BEDROCK_SONNET, billed(fixture))


@pytest.mark.parametrize("fixture", CHAT_FIXTURES)
def test_chat_fixture_costs_the_formula(gateway, token, upstream, collector, fixture):
    upstream.queue(fixture)
    client = openai_client(gateway, token)
    if "_stream_" in fixture:
        for _chunk in client.chat.completions.create(model=GPT, messages=HELLO, stream=True,
                                                     stream_options={"include_usage": True}):
            pass
    else:
        client.chat.completions.create(model=GPT, messages=HELLO)
    assert recorded_cost(collector) == by_hand(GPT, billed(fixture))


@pytest.mark.parametrize("fixture", RESPONSES_FIXTURES)
def test_responses_fixture_costs_the_formula(gateway, token, upstream, collector, fixture):
    upstream.queue(fixture)
    client = openai_client(gateway, token)
    try:
        if "_stream_" in fixture:
            for _event in client.responses.create(model=GPT, input="Say hello.", stream=True):
                pass
        else:
            client.responses.create(model=GPT, input="Say hello.")
    except openai.APIError:
        pass
    assert recorded_cost(collector) == by_hand(GPT, billed(fixture))


# -- administrator's prices -----------------------------------------------------------------------


def cli(*args, env=None):
    return CliRunner().invoke(build_cli({}), list(args), env=env or {}, catch_exceptions=False)


def where(gateway) -> list[str]:
    return ["--data-dir", str(gateway.config.data_dir)]


def test_a_price_set_with_the_cli_prices_a_running_gateway_without_restart(gateway, token, upstream, collector):
    fixture = "anthropic/blocking_cache_tokens"
    tokens = billed(fixture)

    def cost_of_a_request() -> int:
        collector.clear()
        upstream.queue(fixture)
        anthropic_call(gateway, token, "anthropic", streaming=False)
        return recorded_cost(collector)

    assert cost_of_a_request() == by_hand(CLAUDE, tokens)
    # The family's id prices its dated variant; cache write defaults to the input price.
    result = cli("prices", "set", "claude-sonnet-4-5", "--input", "2", "--output", "$10.5", "--cache-read", "0.2",
                 *where(gateway))
    assert result.exit_code == 0, result.output
    assert result.output == ("claude-sonnet-4-5: input 2, output 10.5, cache read 0.2, cache write 2 "
                             "USD per million tokens\n")
    admin_cost = tokens[0] * 2_000 + tokens[1] * 10_500 + tokens[2] * 200 + tokens[3] * 2_000
    try:
        wait_until(lambda: cost_of_a_request() == admin_cost, what="the admin price to apply")
        listed = json.loads(cli("prices", "list", *where(gateway)).stdout)
        assert listed["results"] == [{"model": "claude-sonnet-4-5", "source": "admin", "input": "2", "output": "10.5",
                                      "cache_read": "0.2", "cache_write": None}]
        applies = json.loads(cli("prices", "list", "--model", CLAUDE, *where(gateway)).stdout)["results"]
        assert [(p["model"], p["source"], p["requested"]) for p in applies] == [("claude-sonnet-4-5", "admin", CLAUDE)]
    finally:
        result = cli("prices", "unset", "claude-sonnet-4-5", *where(gateway))
    assert result.exit_code == 0, result.output
    assert result.output == "claude-sonnet-4-5: your price is removed; the library's price of claude-sonnet-4-5 applies\n"
    wait_until(lambda: cost_of_a_request() == by_hand(CLAUDE, tokens), what="the library's price to apply again")


def unpriced_count(gateway, prefix: str, model: str) -> float:
    name = f"{prefix}cost_control_unpriced_token_usage_records_total"
    return sum(s.value for s in scrape(metrics_url(gateway))
               if s.name == name and s.labels == {"provider": "openai", "model": model})


def test_an_unpriced_model_costs_null_is_counted_and_listed_missing(gateway, token, upstream, collector):
    model = "acme-internal-coder-7b"
    upstream.queue("openai/chat_blocking_cached_tokens")
    openai_client(gateway, token).chat.completions.create(model=model, messages=HELLO)
    [end] = collector.wait_for_ends()
    [usage] = collector.of("token_usage")
    assert usage.cost_usd_nanos is None  # unpriced, never 0
    for prefix in ("coder_aibridged_", "coder_ai_gateway_"):
        assert unpriced_count(gateway, prefix, model) == 1

    headers = {"Authorization": f"Bearer {token}"}
    answer = wait_until(lambda: requests.get(gateway.url + "/api/v2/aibridge/interceptions", headers=headers,
                                             params={"q": f"model:{model}"}, timeout=10).json()["results"],
                        what="the interception to be recorded")
    [found] = answer
    assert (found["cost_usd"], found["cost_usd_nanos"], found["unpriced_records"]) == (None, None, 1)
    assert [(u["cost_usd"], u["cost_usd_nanos"]) for u in found["token_usages"]] == [(None, None)]

    missing = json.loads(cli("prices", "missing", *where(gateway)).stdout)
    assert [(m["model"], m["provider"], m["records"], m["priced_now"]) for m in missing] == [
        (model, "openai", 1, None)]
    assert missing[0]["input_tokens"] == usage.input_tokens
    assert "acme-internal-coder-7b  openai    1" in cli("prices", "missing", "--format", "table",
                                                         *where(gateway)).stdout
    try:
        assert cli("prices", "set", model, "--input", "0.5", "--output", "1", *where(gateway)).exit_code == 0
        assert json.loads(cli("prices", "missing", *where(gateway)).stdout) == []
        [again] = json.loads(cli("prices", "missing", "--all", *where(gateway)).stdout)
        assert (again["model"], again["priced_now"]) == (model, f"admin: {model}")
    finally:
        cli("prices", "unset", model, *where(gateway))


# -- prices on either store -----------------------------------------------------------------------


def test_prices_are_kept_in_the_database_and_reach_a_running_price_book(tmp_path, store):
    flags = ["--postgres-url", store["postgres_url"]] if store else ["--data-dir", str(tmp_path)]
    book = PriceBook(store.get("postgres_url") or tmp_path / "aibridge.db", refresh_interval=0.1)
    book.start()
    try:
        assert book.price("my-model", "openai") is None
        result = cli("prices", "set", "my-model", "--input", "0.15", "--output", "0.6", "--cache-read", "0.075",
                     "--cache-write", "0.1875", *flags)
        assert result.exit_code == 0, result.output
        price = wait_until(lambda: book.price("my-model", "openai"), what="the price book to read the price")
        assert (price.input, price.output, price.cache_read, price.cache_write, price.source) == (
            Decimal("0.15"), Decimal("0.6"), Decimal("0.075"), Decimal("0.1875"), "admin")
        assert book.price("my-model-2026-01-15", "openai") == price  # a dated id prices as its family
        # A family's price of yours is also the price of its dated and Bedrock ids (over the library's).
        assert cli("prices", "set", "claude-sonnet-4-5", "--input", "1", "--output", "2", *flags).exit_code == 0
        wait_until(lambda: book.price(BEDROCK_SONNET, "anthropic").source == "admin", what="the family's price")
        assert {book.price(model, "anthropic").model for model in (CLAUDE, BEDROCK_SONNET, "claude-sonnet-4-5")} == {
            "claude-sonnet-4-5"}
        assert cli("prices", "unset", "claude-sonnet-4-5", *flags).exit_code == 0
        # Replaced, not added; exact decimals read back as typed.
        assert cli("prices", "set", "my-model", "--input", "1.10", "--output", "4.4", *flags).exit_code == 0
        wait_until(lambda: book.price(BEDROCK_SONNET, "anthropic").source == "library", what="the library's again")
        listed = json.loads(cli("prices", "list", *flags).stdout)["results"]
        assert listed == [{"model": "my-model", "source": "admin", "input": "1.1", "output": "4.4",
                           "cache_read": None, "cache_write": None}]
        wait_until(lambda: book.price("my-model", "openai").input == Decimal("1.1"), what="the new price")
        assert cli("prices", "unset", "my-model", *flags).exit_code == 0
        wait_until(lambda: book.price("my-model", "openai") is None, what="the price to be gone")
        gone = cli("prices", "unset", "my-model", *flags)
        assert (gone.exit_code, gone.output) == (1, "aibridge: error: 'my-model' has no price of yours "
                                                    "(aibridge prices list shows them)\n")
    finally:
        book.stop()


def test_a_refresh_landing_during_a_lookup_never_keeps_the_old_price(monkeypatch):
    import aibridge.cost.book as book_module

    book = PriceBook(None)
    old, new = Price(Decimal(1), Decimal(2)), Price(Decimal(10), Decimal(20))
    book._replace({"my-model": old})
    look_up = book_module.price_for

    def refreshed_meanwhile(model, provider, admin):
        found = look_up(model, provider, admin)
        book._replace({"my-model": new})  # the refresh thread swaps the prices between lookup and memo
        return found

    monkeypatch.setattr(book_module, "price_for", refreshed_meanwhile)
    assert book.price("my-model") == old  # the lookup that began under the old prices
    monkeypatch.setattr(book_module, "price_for", look_up)
    assert book.price("my-model") == new


@pytest.mark.parametrize("args, message", [
    (["--input", "abc", "--output", "1"], "--input: 'abc' is not a number (USD per million tokens, e.g. 3 or 0.30)"),
    (["--input", "1", "--output", "-2"], "--output: '-2' must be a non-negative number of USD per million tokens"),
    (["--input", "1", "--output", "NaN"], "--output: 'NaN' must be a non-negative number of USD per million tokens"),
    (["--input", "3000000", "--output", "1"],
     "--input: '3000000' USD per million tokens is not believable (at most 1000000)"),
    (["--input", "1", "--output", "1", "--cache-read", "1,5"],
     "--cache-read: '1,5' is not a number (USD per million tokens, e.g. 3 or 0.30)"),
])
def test_a_bad_price_is_one_line_and_status_2(tmp_path, args, message):
    result = cli("prices", "set", "my-model", *args, "--data-dir", str(tmp_path))
    assert (result.exit_code, result.output) == (2, f"aibridge: error: {message}\n")


# -- the calculation --------------------------------------------------------------------------------


def usage(input=0, output=0, cache_read=0, cache_write=0, metadata=None) -> TokenUsage:
    return TokenUsage("i", "m", input, output, cache_read, cache_write, metadata or {})


def test_cost_is_exact_and_rounded_once_to_the_nano_dollar():
    price = Price(Decimal("0.15"), Decimal("0.6"), Decimal("0.075"))
    # 7 × 150 + 3 × 600 + 11 × 75 = 3675 nano-dollars; cache writes without their own rate cost the input rate.
    assert cost_nanos(usage(7, 3, 11), price) == 3_675
    assert cost_nanos(usage(cache_write=2), price) == 300
    assert cost_nanos(usage(1), Price(Decimal("0.0001"), Decimal(0))) == 0  # 0.1 nano-dollar rounds to 0
    assert cost_nanos(usage(5), Price(Decimal("0.0001"), Decimal(0))) == 0  # 0.5 rounds half to even
    assert cost_nanos(usage(15), Price(Decimal("0.0001"), Decimal(0))) == 2  # 1.5 rounds half to even
    assert cost_nanos(usage(10**9, 10**9), Price(Decimal("3"), Decimal("15"))) == 18 * 10**12  # no float drift
    # A rate finer than a thousandth of a dollar per million (a fraction of a nano-dollar a token), or written
    # with an exponent, is as exact: 25 × 0.00006 = 1.5 nano-dollars, 75 × 0.00006 = 4.5.
    assert cost_nanos(usage(25), Price(Decimal("0.00006"), Decimal(0))) == 2
    assert cost_nanos(usage(75), Price(Decimal("0.00006"), Decimal(0))) == 4
    assert cost_nanos(usage(3), Price(Decimal("1E+1"), Decimal(0))) == 30_000
    assert cost_nanos(usage(10), None) is None



def decimal_cost(record: TokenUsage, price: Price, message_input=None) -> int:
    """The formula of docs/cost.md summed in Decimal and rounded once, half to even: what cost_nanos must give."""
    inputs, cache_read, cache_write = record.input_tokens, record.cache_read_input_tokens, record.cache_write_input_tokens
    total = inputs + cache_read + cache_write if message_input is None else message_input
    tier = max((t for t in price.tiers if total > t.above), key=lambda t: t.above, default=None)
    if tier is not None:  # a long-context tier's rates, the price's own where the tier has none
        price = Price(tier.input, tier.output, *(getattr(tier, name) if getattr(tier, name) is not None
                                                  else getattr(price, name)
                                                  for name in ("cache_read", "cache_write", "cache_write_1h")))
    rates = price
    one_hour = (record.metadata.get("cache_creation") or {}).get("ephemeral_1h_input_tokens", 0)
    write_1h = min(cache_write, one_hour) if rates.cache_write_1h is not None else 0
    parts = ((inputs, rates.input), (record.output_tokens, rates.output),
             (cache_read, rates.input if rates.cache_read is None else rates.cache_read),
             (cache_write - write_1h, rates.input if rates.cache_write is None else rates.cache_write),
             (write_1h, rates.cache_write_1h or 0))
    with decimal.localcontext(decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)):
        usd_millionths = sum((Decimal(tokens) * rate for tokens, rate in parts), Decimal(0))
        return int((usd_millionths * 1000).to_integral_value())


def test_cost_matches_the_decimal_formula_for_any_rates_and_counts():
    """Integer arithmetic in cost_nanos, checked against Decimal on rates of every scale (seeded: repeatable)."""
    rng = random.Random(19)

    def rate():
        return rng.choice([None, Decimal(0), Decimal("0E-5"), Decimal("1E+2"), Decimal("0.0375"),
                           Decimal(rng.randint(0, 10**9)).scaleb(-rng.randint(0, 12))])

    def counts():
        return rng.choice([0, rng.randint(0, 2_000_000), -rng.randint(1, 1000)])  # a broken upstream's negatives too

    for _ in range(3000):
        tiers = tuple(Tier(above, rate() or Decimal(6), rate() or Decimal(22), rate(), rate(), rate())
                      for above in rng.sample([128_000, 200_000, 272_000], rng.randint(0, 2)))
        price = Price(rate() or Decimal(3), rate() or Decimal(15), rate(), rate(), rate(), tiers)
        one_hour = {"cache_creation": {"ephemeral_1h_input_tokens": rng.randint(0, 5000)}} if rng.random() < 0.3 else None
        record = usage(counts(), counts(), counts(), counts(), one_hour)
        message_input = rng.choice([None, rng.randint(0, 400_000)])
        assert cost_nanos(record, price, message_input) == decimal_cost(record, price, message_input), (record, price)

def test_long_context_tier_and_one_hour_cache_writes():
    sonnet = library_price(CLAUDE, "anthropic")
    # Above 200k input tokens (cache included) every token of the record costs the long-context rate.
    assert cost_nanos(usage(100_000, 1_000, 100_000, 0), sonnet) == 100_000 * 3_000 + 1_000 * 15_000 + 100_000 * 300
    assert cost_nanos(usage(100_000, 1_000, 100_001, 0), sonnet) == 100_000 * 6_000 + 1_000 * 22_500 + 100_001 * 600
    # One-hour cache writes (Anthropic's metadata says how many) cost their own rate.
    hour = usage(10, 0, 0, 1_000, {"cache_creation": {"ephemeral_5m_input_tokens": 400,
                                                        "ephemeral_1h_input_tokens": 600}})
    assert cost_nanos(hour, sonnet) == 10 * 3_000 + 400 * 3_750 + 600 * 6_000


@pytest.mark.parametrize("model, provider, family, rates", [
    ("claude-sonnet-4-5-20250929", "anthropic", "claude-sonnet-4-5", ("3", "15", "0.3", "3.75")),
    ("claude-opus-4-1-20250805", "anthropic", "claude-opus-4-1", ("15", "75", "1.5", "18.75")),
    ("claude-haiku-4-5-20251001", "anthropic", "claude-haiku-4-5", ("1", "5", "0.1", "1.25")),
    ("claude-3-5-haiku-20241022", "anthropic", "claude-3-5-haiku-latest", ("0.8", "4", "0.08", "1")),
    ("gpt-4o-2024-08-06", "openai", "gpt-4o", ("2.5", "10", "1.25", None)),
    ("gpt-4o-mini-2024-07-18", "openai", "gpt-4o-mini", ("0.15", "0.6", "0.075", None)),
    ("gpt-4.1", "openai", "gpt-4.1", ("2", "8", "0.5", None)),
    ("gpt-5", "openai", "gpt-5", ("1.25", "10", "0.125", None)),
    ("gpt-5-codex", "openai", "gpt-5", ("1.25", "10", "0.125", None)),
    ("o3", "openai", "o3", ("2", "8", "0.5", None)),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic",
     "regional.anthropic.claude-sonnet-4-5-20250929-v1:0", ("3.3", "16.5", "0.33", "4.125")),
    ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic",
     "regional.anthropic.claude-3-7-sonnet-20250219-v1:0", ("3", "15", "0.3", "3.75")),
    ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic",
     "global.anthropic.claude-haiku-4-5-20251001-v1:0", ("1", "5", "0.1", "1.25")),
    ("anthropic.claude-opus-4-1-20250805-v1:0", "anthropic",
     "regional.anthropic.claude-opus-4-1-20250805-v1:0", ("15", "75", "1.5", "18.75")),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
     "anthropic", "regional.anthropic.claude-sonnet-4-5-20250929-v1:0", ("3.3", "16.5", "0.33", "4.125")),
])
def test_the_library_prices_current_ids_and_their_variants(model, provider, family, rates):
    price = library_price(model, provider)
    assert price is not None and (price.model, price.source) == (family, "library")
    expected = tuple(None if rate is None else Decimal(rate) for rate in rates)
    assert (price.input, price.output, price.cache_read, price.cache_write) == expected


@pytest.mark.parametrize("model", ["acme-internal-coder-7b",
                                   "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6"])
def test_ids_the_library_does_not_know_are_unpriced(model):
    assert library_price(model, "openai") is None and library_price(model, "anthropic") is None


def test_the_library_never_fetches_prices():
    from genai_prices import data_snapshot

    assert library_price(CLAUDE, "anthropic") is not None
    assert data_snapshot.get_snapshot().from_auto_update is False


def test_parse_rate_keeps_decimals_exact():
    assert parse_rate("--input", " 0.075 ") == Decimal("0.075")
    assert parse_rate("--input", "$1_000") == Decimal(1000)
    with pytest.raises(PriceError):
        parse_rate("--input", "Infinity")


# -- monthly spend --------------------------------------------------------------------------------


def test_spend_export_is_the_sum_of_the_records_per_day_user_and_model(tmp_path, store):
    from support.recorder_support import RecordingApp, ended, make_interception, utc

    recording = RecordingApp(tmp_path / "data", **store)
    # (id, user, model, started, costs of its token records: None is unpriced)
    plan = [
        ("n1", "alice", "claude-sonnet-4-5", utc(2026, 11, 1, 0), [1_000_000_001, 2]),
        ("n2", "alice", "claude-sonnet-4-5", utc(2026, 11, 1, 23, 59), [7, None]),
        ("n3", "alice", "gpt-4o", utc(2026, 11, 1, 9), [None]),
        ("n4", "bob", "claude-sonnet-4-5", utc(2026, 11, 30, 23, 59), [123_456_789]),
        ("n5", "bob", "claude-sonnet-4-5", utc(2026, 11, 30, 12), [1]),
        ("o1", "bob", "claude-sonnet-4-5", utc(2026, 10, 31, 23, 59), [5_000]),  # October
        ("d1", "alice", "claude-sonnet-4-5", utc(2026, 12, 1, 0), [9_000]),  # December
    ]
    try:
        for iid, user, model, started, costs in plan:
            interception = make_interception(iid, initiator_id=f"id-{user}", username=user, model=model,
                                             started_at=started)
            recording.notify("on_interception_start", interception=interception)
            for n, cost in enumerate(costs):
                record = TokenUsage(iid, f"msg_{n}", 10 * (n + 1), 1, 2, 3, created_at=started, cost_usd_nanos=cost)
                recording.notify("on_token_usage", interception=interception, usage=record)
            recording.notify("on_interception_end", interception=ended(interception))
        recording.wait_written()
    finally:
        recording.close()
    flags = ["--postgres-url", store["postgres_url"]] if store else ["--data-dir", str(tmp_path / "data")]

    exported = json.loads(cli("spend", "export", "--month", "2026-11", "--format", "json", *flags).stdout)
    assert exported["month"] == "2026-11"
    rows = [(r["day"], r["initiator_username"], r["model"], r["interceptions"], r["cost_usd_nanos"],
             r["unpriced_records"], r["cost_usd"]) for r in exported["results"]]
    assert rows == [
        ("2026-11-01", "alice", "claude-sonnet-4-5", 2, 1_000_000_010, 1, 1.00000001),
        ("2026-11-01", "alice", "gpt-4o", 1, None, 1, None),  # nothing priced: unknown, not 0
        ("2026-11-30", "bob", "claude-sonnet-4-5", 2, 123_456_790, 0, 0.12345679),
    ]
    # The totals are the sum of November's priced token records, exact.
    november = [cost for iid, _u, _m, started, costs in plan if started.month == 11 for cost in costs]
    assert exported["totals"]["cost_usd_nanos"] == sum(cost for cost in november if cost is not None) == 1_123_456_800
    assert exported["totals"]["unpriced_records"] == november.count(None) == 2
    assert exported["totals"]["interceptions"] == 5
    assert exported["totals"]["input_tokens"] == 10 * 5 + 20 * 2  # a first record each, a second of n1 and n2
    # And the same as the database's own sum.
    import aibridge

    with aibridge.read_database(store.get("postgres_url") or tmp_path / "data" / "aibridge.db") as db:
        assert db.value("SELECT sum(t.cost_usd_nanos) FROM token_usages t JOIN interceptions i "
                        "ON i.id = t.interception_id WHERE i.started_at >= '2026-11' AND i.started_at < '2026-12'") \
            == exported["totals"]["cost_usd_nanos"]

    csv_text = cli("spend", "export", "--month", "2026-11", "--format", "csv", *flags).stdout
    lines = csv_text.splitlines()
    assert lines[0] == ("day,initiator_id,initiator_username,model,interceptions,input_tokens,output_tokens,"
                        "cache_read_input_tokens,cache_write_input_tokens,cost_usd,cost_usd_nanos,unpriced_records")
    assert lines[1] == "2026-11-01,id-alice,alice,claude-sonnet-4-5,2,60,4,8,12,1.00000001,1000000010,1"
    assert lines[2] == "2026-11-01,id-alice,alice,gpt-4o,1,10,1,2,3,,,1"
    assert len(lines) == 4
    empty = cli("spend", "export", "--month", "2025-02", "--format", "csv", *flags).stdout
    assert empty.splitlines() == lines[:1]
    bad = cli("spend", "export", "--month", "2026-13", *flags)
    assert (bad.exit_code, bad.output) == (2, "aibridge: error: --month: '2026-13' is not a month: use YYYY-MM, "
                                              "e.g. 2026-11\n")


def test_a_long_context_stream_prices_its_output_at_the_long_context_rate(gateway, token, upstream, collector):
    """A streamed message reports its input first and its output last: the tier is the message's."""
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_long", "type": "message", "role": "assistant", "model": CLAUDE, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 150_000, "cache_read_input_tokens": 60_000, "cache_creation_input_tokens": 0,
                      "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Done."}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 2_000}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    body = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()
    from support.fakeupstream import Response

    upstream.queue(Response(200, {"Content-Type": "text/event-stream"}, body))
    anthropic_call(gateway, token, "anthropic", streaming=True)
    collector.wait_for_ends()
    usages = collector.of("token_usage")
    assert sum(u.input_tokens for u in usages) == 150_000 and sum(u.output_tokens for u in usages) == 2_000
    # 210,000 input tokens: above 200,000, every token of the message at the long-context rates ($6, $22.50, $0.60).
    assert sum(u.cost_usd_nanos for u in usages) == 150_000 * 6_000 + 2_000 * 22_500 + 60_000 * 600


def test_a_message_reported_over_several_records_is_priced_at_its_tier():
    """A stream cut short reports the usage so far; the rest comes in a later record of the same message."""
    from support.recorder_support import make_interception

    from aibridge.plugins import make_plugin_manager
    from aibridge.relay.lifecycle import InterceptionLog

    pm = make_plugin_manager()
    collector = pm.register(RecordCollector(), name="collector") and pm.get_plugin("collector")
    log = InterceptionLog(pm, make_interception("i", model=CLAUDE), cost_of=PriceBook(None).cost_of)
    log.tokens("msg_1", input=150_000, cache_read=60_000, output=1)
    log.tokens("msg_1", output=1_999)
    log.tokens("msg_2", input=10, output=10)  # another message: its own tier
    assert [usage.cost_usd_nanos for usage in collector.of("token_usage")] == [150_000 * 6_000 + 1 * 22_500 + 60_000 * 600, 1_999 * 22_500, 10 * 3_000 + 10 * 15_000]


def test_the_dashboard_writes_dollars_readably():
    from aibridge_plugins.dashboard.formatting import usd

    assert [usd(n) for n in (None, 0, 12_345_678_901, 10_000_000, 4_200_000, 123_456, 100_000, 9_950_000, 99)] == [
        "unpriced", "$0.00", "$12.35", "$0.01", "$0.0042", "$0.00012", "$0.0001", "$0.01", "<$0.0001"]


def test_a_dated_library_price_applies_from_its_day_without_restart(monkeypatch):
    """genai-prices dates price changes (OpenAI's gpt-5.6-sol: $5 in, then $4 from 2026-08-21): the lookups of a
    running process follow the UTC day."""
    import datetime as dt

    from aibridge.cost import library

    book = PriceBook(None)  # what a running gateway prices with, its lookups kept in memory
    monkeypatch.setattr(library, "utc_today", lambda: dt.date(2026, 8, 20))
    assert library_price("gpt-5.6-sol", "openai").input == book.price("gpt-5.6-sol", "openai").input == Decimal("5")
    monkeypatch.setattr(library, "utc_today", lambda: dt.date(2026, 8, 21))
    assert library_price("gpt-5.6-sol", "openai").input == book.price("gpt-5.6-sol", "openai").input == Decimal("4")


def test_copilot_instances_are_priced_as_docs_cost_md_says():
    """Copilot's own list where it has per-token rates; else whichever provider's list has the id."""
    own = library_price("claude-sonnet-4.6", "copilot")
    assert (own.model, own.input, own.output) == ("claude-sonnet-4.6", Decimal("3"), Decimal("15"))
    # Not in Copilot's list: Anthropic's rates, its long-context tier with them.
    assert library_price("claude-sonnet-4-5", "copilot") == library_price("claude-sonnet-4-5", "anthropic")
    assert library_price("claude-sonnet-4-5", "copilot").tiers
    # Listed by Copilot without a rate (included in the subscription): OpenAI's list price all the same.
    assert library_price("gpt-4o", "copilot") == library_price("gpt-4o", "openai")


def test_an_admin_price_has_no_long_context_tier():
    """A message above 200,000 input tokens costs the administrator's base rates (the library's tier is not kept)."""
    admin = Price(Decimal("3"), Decimal("15"), source="admin", model="claude-sonnet-4-5")
    from aibridge.cost.book import price_for

    price = price_for(CLAUDE, "anthropic", {"claude-sonnet-4-5": admin})  # the family's price prices the dated id
    assert price is admin and price.tiers == ()
    long = TokenUsage(interception_id="i", msg_id="m", input_tokens=300_000, output_tokens=1000)
    assert cost_nanos(long, price) == 300_000 * 3000 + 1000 * 15000  # base rates: $0.90 + $0.015
    assert cost_nanos(long, library_price(CLAUDE, "anthropic")) == 300_000 * 6000 + 1000 * 22500  # the library's tier


def test_a_sum_of_groups_without_a_priced_record_is_unpriced_never_zero():
    from aibridge_plugins.storage.usage import total_cost

    # A failed request (no token records: 0) beside one of an unpriced model: the sum is unknown, not $0.
    assert total_cost([0, None], unpriced_records=1) is None
    assert total_cost([5, None], unpriced_records=1) == 5  # the priced part, and one record unpriced
    assert total_cost([0, 0], unpriced_records=0) == 0
