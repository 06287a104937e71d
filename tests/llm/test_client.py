"""build_model / ModelRegistry / check_model, and the full stack against the fake OpenAI server."""

from __future__ import annotations

import asyncio
import importlib.util
import time

import pytest

from synthloom.llm.budget import Budget, BudgetedBackend
from synthloom.llm.cache import CachedBackend, ResponseCache
from synthloom.llm.client import ModelRegistry, build_model, check_model, find_layer
from synthloom.llm.limits import RateLimitedBackend
from synthloom.llm.retries import RetryingBackend
from synthloom.llm.spec import ModelConfig, ModelSpecError, parse_model_spec
from synthloom.llm.types import BudgetExceeded, Choice, Request, Response, TransientError, Usage
from synthloom.llm.usage import UsageRecordingBackend, UsageTracker, step_scope

HAVE_OPENAI_BACKEND = importlib.util.find_spec("synthloom.llm.backends.openai") is not None


class CountingBackend:
    """Answers "ok N" with 10 + 5 tokens; fails the first ``fail_first`` calls; counts closes."""

    def __init__(self, identity: str = "counting:test", fail_first: int = 0) -> None:
        self.identity = identity
        self.fail_first = fail_first
        self.calls = 0
        self.closed = 0

    async def complete(self, request: Request) -> Response:
        self.calls += 1
        if self.calls <= self.fail_first:
            raise TransientError("scripted 500")
        return Response([Choice(f"ok {self.calls}")], Usage(10, 5))

    async def aclose(self) -> None:
        self.closed += 1


def chat(text: str) -> Request:
    return Request.chat([{"role": "user", "content": text}])


# -- check_model -----------------------------------------------------------------------------


def test_check_model_names_the_model_and_the_missing_env_var(monkeypatch):
    monkeypatch.delenv("SYNTHLOOM_TEST_KEY", raising=False)
    cfg = parse_model_spec("openai:m@http://127.0.0.1:9/v1", name="judge", api_key_env="SYNTHLOOM_TEST_KEY")
    with pytest.raises(ModelSpecError, match=r"model 'judge'.*SYNTHLOOM_TEST_KEY is not set"):
        check_model(cfg)
    monkeypatch.setenv("SYNTHLOOM_TEST_KEY", "sk-x")
    check_model(cfg)

    monkeypatch.delenv("SYNTHLOOM_TEST_HEADER", raising=False)
    cfg.header_env = {"X-Org": "SYNTHLOOM_TEST_HEADER"}
    with pytest.raises(ModelSpecError, match="'X-Org'.*SYNTHLOOM_TEST_HEADER"):
        check_model(cfg)


@pytest.mark.parametrize(
    "url, problem",
    [("ftp://host/v1", "not an http"), ("http:///v1", "not an http"), ("http://host:99999/v1", "bad port")],
)
def test_check_model_rejects_bad_urls(url, problem):
    cfg = ModelConfig(name="default", backend="openai", model="m", base_url=url)
    with pytest.raises(ModelSpecError, match=problem):
        check_model(cfg)


@pytest.mark.parametrize(
    "setting, value, fragment",
    [
        ("max_in_flight", 0, "max_in_flight must be at least 1"),
        ("timeout_s", 0, "timeout_s must be > 0"),
        ("max_retries", -1, "max_retries must be >= 0"),
        ("requests_per_minute", 0, "requests_per_minute must be > 0"),
        ("price_output_per_mtok", -1.0, "price_output_per_mtok must be >= 0"),
        ("endpoint", "embeddings", "endpoint must be"),
    ],
)
def test_check_model_rejects_bad_settings(setting, value, fragment):
    cfg = parse_model_spec("openai:m@http://127.0.0.1:9/v1", **{setting: value})
    with pytest.raises(ModelSpecError, match=fragment):
        check_model(cfg)


def test_check_model_reports_a_missing_gguf(tmp_path):
    cfg = parse_model_spec(f"gguf:{tmp_path / 'nope.gguf'}", name="local")
    with pytest.raises(ModelSpecError, match="nope.gguf"):
        check_model(cfg)


def test_check_model_rejects_unknown_backends():
    with pytest.raises(ModelSpecError, match="unknown backend 'vllm'"):
        check_model(ModelConfig(name="x", backend="vllm", model="m"))


# -- build_model and the registry with a scripted backend ------------------------------------


def test_layers_are_stacked_in_order_and_share_the_identity(tmp_path):
    cfg = parse_model_spec("openai:m@http://127.0.0.1:9/v1")
    with ResponseCache(tmp_path / "c.db") as cache:
        model = build_model(cfg, cache=cache, budget=Budget(), usage=UsageTracker(), backend=CountingBackend())
        order = []
        layer = model
        while layer is not None:
            order.append(type(layer))
            assert layer.identity == "counting:test"
            layer = layer.__dict__.get("inner")
    assert order == [UsageRecordingBackend, CachedBackend, BudgetedBackend, RateLimitedBackend, RetryingBackend, CountingBackend]
    retries = find_layer(model, RetryingBackend)
    assert retries.observer is find_layer(model, RateLimitedBackend)
    assert retries.timeout_s == cfg.timeout_s and retries.max_retries == cfg.max_retries


def test_stack_retries_caches_budgets_and_records_usage(tmp_path):
    cfg = parse_model_spec("openai:m@http://127.0.0.1:9/v1", backoff_base_s=0.001, backoff_max_s=0.01,
                           price_input_per_mtok=1.0, price_output_per_mtok=2.0)
    inner = CountingBackend(fail_first=2)
    budget = Budget(max_requests=3)
    usage = UsageTracker()

    async def run():
        with ResponseCache(tmp_path / "c.db") as cache:
            model = build_model(cfg, cache=cache, budget=budget, usage=usage, backend=inner)
            with step_scope("gen"):
                first = await model.complete(chat("a"))  # two 500s retried inside one budgeted request
                again = await model.complete(chat("a"))  # cache hit: free
                await model.complete(chat("b"))
                await model.complete(chat("c"))
                with pytest.raises(BudgetExceeded, match="max_requests=3"):
                    await model.complete(chat("d"))
            await model.aclose()
        return first, again

    first, again = asyncio.run(run())
    assert first.text == "ok 3" and again.cached and again.text == "ok 3"
    assert inner.calls == 5 and inner.closed == 1
    row = usage.snapshot()["by_step"][0]
    assert (row["step"], row["model"], row["requests"], row["cached"], row["errors"]) == ("gen", "default", 3, 1, 0)
    assert row["cost"] == pytest.approx(3 * (10 * 1.0 + 5 * 2.0) / 1e6)
    assert budget.snapshot()["prompt_tokens"] == 30


def test_registry_builds_each_model_once_and_closes_all(tmp_path):
    made: list[CountingBackend] = []

    def make(config: ModelConfig) -> CountingBackend:
        made.append(CountingBackend(f"counting:{config.name}"))
        return made[-1]

    configs = [parse_model_spec("openai:a@http://127.0.0.1:9/v1"), parse_model_spec("openai:b@http://127.0.0.1:9/v1", name="judge")]

    async def run():
        with ResponseCache(tmp_path / "c.db") as cache:
            registry = ModelRegistry(configs, cache=cache, make=make)
            registry.check_all()
            assert registry.get("default") is registry["default"]
            await registry["judge"].complete(chat("x"))
            limits = registry.limits()
            with pytest.raises(ModelSpecError, match="no model named 'critic'.*default, judge"):
                registry.get("critic")
            await registry.aclose_all()
            return limits

    limits = asyncio.run(run())
    assert [b.identity for b in made] == ["counting:default", "counting:judge"]
    assert all(b.closed == 1 for b in made)
    assert limits["judge"]["limit"] == 64 and limits["judge"]["in_flight"] == 0


def test_registry_rejects_duplicate_names():
    cfg = parse_model_spec("openai:a@http://127.0.0.1:9/v1")
    with pytest.raises(ModelSpecError, match="two models are named 'default'"):
        ModelRegistry([cfg, cfg])


# -- the full stack against the fault-injecting fake OpenAI server ---------------------------

needs_server = pytest.mark.skipif(not HAVE_OPENAI_BACKEND, reason="needs synthloom.llm.backends.openai")
SECRET = "sk-synthloom-test-6f1c2d9e8b7a"


@pytest.fixture(scope="module")
def server():
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    with FakeOpenAIServer(FakeServerConfig(retry_after_s=0.05)) as srv:
        yield srv


@pytest.fixture
def fresh(server):
    server.reset_stats()
    return server


def fast_config(url: str, **settings) -> ModelConfig:
    settings = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, **settings}
    return parse_model_spec(f"openai:fake-model@{url}", **settings)


async def ask_all(model, texts: list[str]) -> list:
    return await asyncio.gather(*(model.complete(chat(t)) for t in texts), return_exceptions=True)


@needs_server
def test_retries_recover_from_500s_truncations_malformed_json_and_stalls(fresh, tmp_path):
    texts = [f"q{i} [[fault:{kind}:{k}]]" for i, (kind, k) in
             enumerate([("500", 2), ("503", 1), ("truncate", 1), ("malformed", 2), ("reset", 1), ("stall", 1)] * 3)]
    usage = UsageTracker()

    async def run():
        with ResponseCache(tmp_path / "c.db") as cache:
            model = build_model(fast_config(fresh.url, timeout_s=0.5), cache=cache, usage=usage)
            answers = await ask_all(model, texts)
            await model.aclose()
        return answers

    answers = asyncio.run(run())
    assert [a.text for a in answers] == [f"Reply to: {t}" for t in texts]
    faults = fresh.stats()["faults"]
    assert faults == {"500": 6, "503": 3, "truncate": 3, "malformed": 6, "reset": 3, "stall": 3}
    assert usage.totals().requests == len(texts) and usage.totals().errors == 0


@needs_server
def test_retry_after_is_honoured(tmp_path):
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    with FakeOpenAIServer(FakeServerConfig(retry_after_s=0.6)) as srv:

        async def run():
            model = build_model(fast_config(srv.url))
            start = time.monotonic()
            answer = await model.complete(chat("wait [[fault:429:1]]"))
            waited = time.monotonic() - start
            await model.aclose()
            return answer, waited

        answer, waited = asyncio.run(run())
    assert answer.text == "Reply to: wait [[fault:429:1]]"
    assert waited >= 0.55  # the backoff alone would be at most backoff_max_s = 0.05


@needs_server
def test_adaptive_concurrency_shrinks_on_429s_and_recovers(fresh):
    async def run():
        model = build_model(fast_config(fresh.url, max_in_flight=16))
        limits = find_layer(model, RateLimitedBackend)
        await ask_all(model, [f"burst {i} [[fault:429:3]]" for i in range(32)])
        shrunk = limits.current_limit
        peak_429_phase = fresh.stats()["max_in_flight"]
        grown = []
        for round_ in range(8):
            await ask_all(model, [f"calm {round_}-{i}" for i in range(32)])
            grown.append(limits.current_limit)
        await model.aclose()
        return shrunk, peak_429_phase, grown, limits

    shrunk, peak, grown, limits = asyncio.run(run())
    assert limits.rate_limited == 96 and limits.concurrency.decreases >= 2
    assert shrunk < 16 and peak <= 16
    assert grown == sorted(grown) and grown[-1] == 16


@needs_server
def test_exhausted_retries_raise_the_last_error(fresh):
    async def run():
        model = build_model(fast_config(fresh.url, max_retries=2))
        try:
            with pytest.raises(TransientError, match=r"HTTP 502.*gave up after 3 attempts") as caught:
                await model.complete(chat("always broken [[fault:502]]"))
            return caught.value
        finally:
            await model.aclose()

    error = asyncio.run(run())
    assert error.status == 502 and error.attempts == 3
    assert fresh.stats()["by_status"] == {"502": 3}


@needs_server
def test_budget_stops_the_run_and_a_rerun_with_a_higher_cap_resumes(fresh, tmp_path):
    texts = [f"item {i}" for i in range(10)]

    async def run(cap: int):
        with ResponseCache(tmp_path / "c.db") as cache:
            model = build_model(fast_config(fresh.url), cache=cache, budget=Budget(max_requests=cap))
            answers = await ask_all(model, texts)
            await model.aclose()
        return answers

    first = asyncio.run(run(4))
    assert sum(isinstance(a, Response) for a in first) == 4
    stops = [a for a in first if isinstance(a, BudgetExceeded)]
    assert len(stops) == 6 and "max_requests=4" in str(stops[0])
    assert fresh.stats()["requests"] == 4

    second = asyncio.run(run(6))  # 4 replayed free from the cache, 6 new
    assert all(isinstance(a, Response) for a in second)
    assert sum(a.cached for a in second) == 4
    assert fresh.stats()["requests"] == 10


@needs_server
def test_api_key_never_reaches_the_cache_file(tmp_path, monkeypatch):
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    monkeypatch.setenv("SYNTHLOOM_TEST_API_KEY", SECRET)
    with FakeOpenAIServer(FakeServerConfig(api_key=SECRET)) as srv:
        cfg = fast_config(srv.url, api_key_env="SYNTHLOOM_TEST_API_KEY")
        check_model(cfg)

        async def run():
            cache = ResponseCache(tmp_path / "cache" / "responses.db")
            model = build_model(cfg, cache=cache, usage=UsageTracker())
            answers = await ask_all(model, [f"secret-free {i}" for i in range(50)])
            await model.aclose()
            await cache.aclose()
            return answers, model.identity

        answers, identity = asyncio.run(run())
        assert srv.last_request()["headers"]["authorization"] == f"Bearer {SECRET}"
    assert all(isinstance(a, Response) for a in answers)  # the key was sent and accepted
    assert SECRET not in identity
    files = list((tmp_path / "cache").iterdir())
    assert files and all(SECRET.encode() not in f.read_bytes() for f in files)
    assert b"Reply to: secret-free 49" in (tmp_path / "cache" / "responses.db").read_bytes()  # the answers are there
