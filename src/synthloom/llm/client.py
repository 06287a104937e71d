"""Build a model client: a backend wrapped in the layers every model call goes through.

Outermost first: usage recording → response cache → budget → rate limits and adaptive
concurrency → retries (with the per-attempt deadline) → backend. The cache sits outside the
budget so replayed answers are free; retries sit inside the limits so a request holds its slot
while it backs off, and report every failed attempt to the limits so 429s still shrink them.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from synthloom.llm.batch.journal import BatchJournal
from synthloom.llm.batch.provider import check_batch_config
from synthloom.llm.budget import Budget, BudgetedBackend
from synthloom.llm.cache import CachedBackend, ResponseCache
from synthloom.llm.limits import RateLimitedBackend
from synthloom.llm.retries import RetryingBackend
from synthloom.llm.spec import ModelConfig, ModelSpecError
from synthloom.llm.types import ModelBackend
from synthloom.llm.usage import UsageRecordingBackend, UsageTracker

BACKEND_CLASSES = {
    "openai": ("synthloom.llm.backends.openai", "OpenAIBackend"),
    "llamacpp": ("synthloom.llm.backends.llamacpp", "LlamaCppBackend"),
    "anthropic": ("synthloom.llm.backends.anthropic", "AnthropicBackend"),
}

L = TypeVar("L")


def _label(config: ModelConfig) -> str:
    spec = config.spec or f"{config.backend}:{config.model}"
    return f"model {config.name!r} ({spec})"


def check_model(config: ModelConfig) -> None:
    """Check a model's settings before any call; raise :class:`ModelSpecError` saying what to fix."""
    where = _label(config)
    if config.backend not in BACKEND_CLASSES:
        raise ModelSpecError(f"{where}: unknown backend {config.backend!r}; use one of {', '.join(BACKEND_CLASSES)}")
    if config.max_in_flight < 1:
        raise ModelSpecError(f"{where}: max_in_flight must be at least 1, got {config.max_in_flight}")
    if config.timeout_s is not None and config.timeout_s <= 0:
        raise ModelSpecError(f"{where}: timeout_s must be > 0 seconds, got {config.timeout_s}")
    if config.max_retries < 0:
        raise ModelSpecError(f"{where}: max_retries must be >= 0, got {config.max_retries}")
    for name in ("requests_per_minute", "tokens_per_minute"):
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ModelSpecError(f"{where}: {name} must be > 0 (or left out for no limit), got {value}")
    for name in ("price_input_per_mtok", "price_output_per_mtok", "price_cache_write_per_mtok", "price_cache_read_per_mtok"):
        if (getattr(config, name) or 0) < 0:
            raise ModelSpecError(f"{where}: {name} must be >= 0, got {getattr(config, name)}")
    if config.backend == "openai":
        _check_openai(config, where)
    elif config.backend == "anthropic":
        from synthloom.llm.backends.anthropic import check_anthropic_config

        check_anthropic_config(config, where)
    else:
        _check_llamacpp(config, where)
    check_batch_config(config, where)


def _check_openai(config: ModelConfig, where: str) -> None:
    url = config.base_url or os.environ.get("OPENAI_BASE_URL")
    if url:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            source = "base_url" if config.base_url else "$OPENAI_BASE_URL"
            raise ModelSpecError(
                f"{where}: {source} {url!r} is not an http(s) URL; write it like http://localhost:8000/v1"
            )
        try:
            _ = parsed.port  # raises on a bad port number
        except ValueError:
            raise ModelSpecError(f"{where}: base URL {url!r} has a bad port number") from None
    if config.api_key_env and not os.environ.get(config.api_key_env):
        raise ModelSpecError(
            f"{where}: the API key environment variable {config.api_key_env} is not set; "
            f"export {config.api_key_env}=<your key>, or set api_key_env to the variable that holds it"
        )
    for header, env in config.header_env.items():
        if not os.environ.get(env):
            raise ModelSpecError(
                f"{where}: header {header!r} takes its value from the environment variable {env}, which is not set"
            )
    if config.endpoint not in ("auto", "chat", "completions"):
        raise ModelSpecError(f"{where}: endpoint must be 'auto', 'chat' or 'completions', got {config.endpoint!r}")


def _check_llamacpp(config: ModelConfig, where: str) -> None:
    try:
        module = importlib.import_module(BACKEND_CLASSES["llamacpp"][0])
    except ImportError:
        module = None
    check_path = getattr(module, "check_model_path", None)
    if check_path is not None:
        check_path(config)
        return
    if config.model != "embedded" and not Path(config.model).expanduser().is_file():
        raise ModelSpecError(f"{where}: GGUF file {config.model!r} does not exist; give the path to a .gguf model file")


def make_backend(config: ModelConfig) -> ModelBackend:
    """The bare backend for ``config.backend``, imported only when used (llama.cpp is optional)."""
    try:
        module_name, class_name = BACKEND_CLASSES[config.backend]
    except KeyError:
        raise ModelSpecError(f"{_label(config)}: unknown backend {config.backend!r}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = " (install synthloom[local] for llama.cpp models)" if config.backend == "llamacpp" else ""
        raise ModelSpecError(f"{_label(config)}: cannot load the {config.backend} backend: {exc}{extra}") from exc
    return getattr(module, class_name)(config)


def build_model(
    config: ModelConfig,
    *,
    cache: ResponseCache | None = None,
    budget: Budget | None = None,
    usage: UsageTracker | None = None,
    backend: ModelBackend | None = None,
    batch_journal: BatchJournal | None = None,
    limits: Callable[[ModelConfig, ModelBackend], ModelBackend] | None = None,
    budget_layer: Callable[[ModelBackend, float, float, tuple[float, float]], ModelBackend] | None = None,
) -> ModelBackend:
    """Wrap the model's backend (or ``backend`` when given) in the layers for ``config``.

    A Ray run's workers give ``limits`` and ``budget_layer`` (cluster-wide layers, ``engine/ray_services.py``)
    in place of the local rate limits and budget.

    ``cache=None`` runs without a cache (``--no-cache``); ``budget``/``usage`` are shared by all
    models of a run. With ``config.batch`` the batching layer (``llm/batch/layer.py``, journaled in
    ``batch_journal``) takes the place of rate limits and retries, and prices are the batch prices.
    """
    inner: ModelBackend = backend if backend is not None else make_backend(config)
    if config.batch:
        from synthloom.llm.batch.layer import build_batching

        model, price_factor = build_batching(config, inner, journal=batch_journal,
                                             flush=cache.aflush if cache is not None else None)
    else:
        model, price_factor = (limits or _limited)(config, inner), 1.0
    price_in, price_out = config.price_input_per_mtok * price_factor, config.price_output_per_mtok * price_factor
    cache_prices = (config.cache_prices()[0] * price_factor, config.cache_prices()[1] * price_factor)
    if budget_layer is not None:
        model = budget_layer(model, price_in, price_out, cache_prices)
    elif budget is not None:
        model = BudgetedBackend(model, budget, price_in, price_out, cache_prices=cache_prices)
    if cache is not None:
        model = CachedBackend(model, cache)
    if usage is not None:
        usage.register_model(config.name, price_in, price_out, config.spec, cache_prices=cache_prices)
        model = UsageRecordingBackend(model, usage, config.name)
    return model


def _limited(config: ModelConfig, inner: ModelBackend) -> ModelBackend:
    """``inner`` behind retries (with the per-attempt deadline) and rate limits."""
    retries = RetryingBackend(
        inner,
        max_retries=config.max_retries,
        base=config.backoff_base_s,
        max_delay=config.backoff_max_s,
        timeout_s=config.timeout_s,
    )
    limits = RateLimitedBackend(
        retries,
        max_in_flight=config.max_in_flight,
        requests_per_minute=config.requests_per_minute,
        tokens_per_minute=config.tokens_per_minute,
        adaptive=config.adaptive,
        prefix_scheduling=config.backend == "openai" if config.prefix_scheduling is None else config.prefix_scheduling,
    )
    retries.observer = limits
    return limits


def find_layer(model: ModelBackend, kind: type[L]) -> L | None:
    """The first layer of type ``kind`` in a stack built by :func:`build_model` (or None)."""
    layer: Any = model
    while layer is not None:
        if isinstance(layer, kind):
            return layer
        layer = layer.__dict__.get("inner")
    return None


class ModelRegistry:
    """The named models of a recipe (``default``, ``judge``, ...), each built once on first use
    and sharing the run's cache, budget and usage tracker. ``make`` builds a bare backend from a
    config (default: by ``config.backend``)."""

    def __init__(
        self,
        configs: Mapping[str, ModelConfig] | Iterable[ModelConfig],
        *,
        cache: ResponseCache | None = None,
        budget: Budget | None = None,
        usage: UsageTracker | None = None,
        make: Callable[[ModelConfig], ModelBackend] = make_backend,
        build: Callable[..., ModelBackend] | None = None,
        state_dir: Path | None = None,
    ) -> None:
        items = configs.values() if isinstance(configs, Mapping) else configs
        self.configs: dict[str, ModelConfig] = {}
        for config in items:
            if config.name in self.configs:
                raise ModelSpecError(f"two models are named {config.name!r}; give each model its own name")
            self.configs[config.name] = config
        self.cache = cache
        self.budget = budget
        self.usage = usage
        self.make = make
        self.build = build or build_model  # a Ray run's workers build with cluster-wide layers
        self.state_dir = state_dir  # the run's .state/: batch models journal their batches there
        self._batch_journal: BatchJournal | None = None
        self._models: dict[str, ModelBackend] = {}

    @property
    def names(self) -> list[str]:
        return list(self.configs)

    def check_all(self) -> None:
        """Validate every model's settings before the run sends anything."""
        for config in self.configs.values():
            check_model(config)

    def get(self, name: str = "default") -> ModelBackend:
        model = self._models.get(name)
        if model is None:
            if name not in self.configs:
                known = ", ".join(self.configs) or "none"
                raise ModelSpecError(f"no model named {name!r} in this recipe (models: {known})")
            config = self.configs[name]
            model = self._models[name] = self.build(
                config, cache=self.cache, budget=self.budget, usage=self.usage, backend=self.make(config),
                **self._batch_options(config),
            )
        return model

    __getitem__ = get

    def _batch_options(self, config: ModelConfig) -> dict[str, Any]:
        if not config.batch or self.build is not build_model:
            return {}
        if self._batch_journal is None:
            self._batch_journal = BatchJournal(None if self.state_dir is None else Path(self.state_dir) / "batches.jsonl")
        return {"batch_journal": self._batch_journal}

    def get_variant(self, name: str, variant: str, make: Callable[[ModelConfig], ModelBackend]) -> ModelBackend:
        """Model ``name`` reached through another backend, ``make(config)`` (e.g. its server's reward
        endpoint, ``llm/pooling.py``): built once per ``variant`` with the same layers and closed
        with the other models."""
        key = f"{name}#{variant}"
        model = self._models.get(key)
        if model is None:
            if name not in self.configs:
                known = ", ".join(self.configs) or "none"
                raise ModelSpecError(f"no model named {name!r} in this recipe (models: {known})")
            config = self.configs[name]
            if config.batch:  # another endpoint (rewards, scores) is called directly, not in batches
                config = dataclasses.replace(config, batch=False)
            model = self._models[key] = self.build(
                config, cache=self.cache, budget=self.budget, usage=self.usage, backend=make(config)
            )
        return model

    def limits(self) -> dict[str, dict[str, Any]]:
        """Current concurrency limit, in-flight count and pauses of each built model."""
        out = {}
        for name, model in self._models.items():
            layer = find_layer(model, RateLimitedBackend)
            if layer is not None:
                out[name] = layer.snapshot()
        return out

    async def aclose_all(self) -> None:
        """Close every built model (connections, threads, model memory) and flush the cache.
        The cache itself stays open: its owner closes it."""
        errors: list[BaseException] = []
        models, self._models = self._models, {}
        for model in models.values():
            try:
                await model.aclose()
            except Exception as exc:  # noqa: BLE001 - close the others, then report
                errors.append(exc)
        if self.cache is not None:
            await self.cache.aflush()
        if errors:
            raise errors[0]
