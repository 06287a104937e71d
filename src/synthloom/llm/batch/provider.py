"""The contract between the batching layer and one provider's batch API.

A provider turns a list of :class:`BatchItem` into one batch on the provider's side and gives back,
later, a result per item. It knows the provider's wire format and nothing about runs, journals,
caches or prices beyond its ``price_factor``; the layer (``llm/batch/layer.py``) does the rest.

Construction: ``ProviderClass(backend)``, where ``backend`` is the model's bare backend of the same
kind (``OpenAIBackend`` for ``openai``, the Anthropic backend for ``anthropic``). The provider reuses
the backend's request encoder, response decoder, base URL and credentials, and owns it from then on
(its ``aclose`` closes the backend too). :func:`make_provider` picks the class by ``config.backend``.

Methods (all async; each raises a :class:`~synthloom.llm.types.ModelError` subclass on failure:
``RateLimited``/``TransientError`` when trying the same call again later may work, which the layer
does with backoff, ``PermanentError`` when it cannot, e.g. a bad key or a request the API refuses):

``submit(items) -> batch_id``
    Create one batch holding ``items`` (at most ``max_items``; ``custom_id`` values are unique, made
    of ``[A-Za-z0-9_-]``, at most 64 characters) and return the provider's id for it. Each item's
    request must be encoded exactly as the backend encodes it for a single call.
``state(batch_id) -> BatchState``
    Where the batch stands. ``status`` is ``"in_progress"`` until the provider has finished with it,
    then one of ``"ended"`` (processed; items may still have failed one by one), ``"expired"`` (the
    completion window passed; processed items have results, the others none), ``"failed"`` (the
    provider refused the batch as a whole; ``message`` says why) or ``"cancelled"``.
``results(batch_id, requests) -> {custom_id: Response | ModelError}``
    The outcome of every item the provider processed, once ``state`` is no longer ``in_progress``:
    a decoded :class:`~synthloom.llm.types.Response` (usage = the tokens billed, at normal counts: the
    layer applies ``price_factor``), or the item's own error as a ``ModelError`` (retryable for a
    5xx/429/expiry of the item, ``PermanentError`` for a request the API rejects). A custom_id absent
    from the dict was not processed (expired, cancelled, batch failed); the layer resubmits it.
    ``requests`` maps custom_ids to their :class:`Request` where the layer knows it: every item of a
    batch this process submitted, but after a restart only the items asked for again so far. Decode
    an item with its request when given, else from what the result itself says (the reply's shape).
    Calling it twice returns the same results (the layer calls it again after a crash).
``cancel(batch_id)``
    Ask the provider to stop the batch (best effort; finished items keep their results).
``aclose()``
    Close connections (and the backend).

Optional: ``batch_key(request) -> str``; requests with different keys never share a batch (OpenAI: a
batch serves one endpoint, so chat and raw-completion requests go apart). Without it, any requests
of the model may share one.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from synthloom.llm.spec import ModelConfig, ModelSpecError
from synthloom.llm.types import ModelBackend, ModelError, Request, Response

#: the values of :attr:`BatchState.status`
BATCH_STATUSES = ("in_progress", "ended", "expired", "failed", "cancelled")

#: backend name -> (module, class) of its batch provider, imported only when a batch model is built
PROVIDERS = {
    "openai": ("synthloom.llm.batch.openai", "OpenAIBatchProvider"),
    "anthropic": ("synthloom.llm.batch.anthropic", "AnthropicBatchProvider"),
}


@dataclass(frozen=True)
class BatchItem:
    """One request of a batch, under the id its result comes back with."""

    custom_id: str
    request: Request


@dataclass
class BatchState:
    """A batch as the provider last reported it. ``counts`` holds the provider's item counts under
    the keys it has of ``succeeded``, ``errored``, ``expired``, ``processing`` (for progress)."""

    id: str
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""

    @property
    def finished(self) -> bool:
        """The provider is done with the batch: its results can be collected."""
        return self.status != "in_progress"


@runtime_checkable
class BatchProvider(Protocol):
    """A provider's batch API; see the module docstring for the contract of each method."""

    name: str  # "openai" | "anthropic"
    price_factor: float  # batch price / normal price (0.5 for both providers)
    max_items: int  # most requests in one batch

    async def submit(self, items: list[BatchItem]) -> str: ...

    async def state(self, batch_id: str) -> BatchState: ...

    async def results(self, batch_id: str, requests: Mapping[str, Request]) -> dict[str, Response | ModelError]: ...

    async def cancel(self, batch_id: str) -> None: ...

    async def aclose(self) -> None: ...


def supports_batch(backend: str) -> bool:
    """Whether models of ``backend`` (``openai``, ``llamacpp``, ...) can run in batch mode."""
    return backend in PROVIDERS


def make_provider(config: ModelConfig, backend: ModelBackend) -> BatchProvider:
    """The batch provider for ``config.backend``, wrapping the model's bare ``backend``."""
    try:
        module_name, class_name = PROVIDERS[config.backend]
    except KeyError:
        raise ModelSpecError(f"model {config.name!r}: the {config.backend} backend has no batch API; "
                             f"remove `batch: true` (batch mode works with: {', '.join(PROVIDERS)})") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelSpecError(f"model {config.name!r}: cannot load the {config.backend} batch provider: {exc}") from exc
    return getattr(module, class_name)(backend)


def check_batch_config(config: ModelConfig, where: str) -> None:
    """Refuse batch settings that cannot work, in one line naming the model and the fix."""
    if not config.batch:
        return
    if not supports_batch(config.backend):
        raise ModelSpecError(f"{where}: `batch: true` needs a provider batch API, and the {config.backend} backend has "
                             f"none; remove `batch: true` from this model (batch mode works with: {', '.join(PROVIDERS)})")
    if config.batch_size is not None and config.batch_size < 1:
        raise ModelSpecError(f"{where}: batch_size must be at least 1 (or left out for the provider's maximum), "
                             f"got {config.batch_size}")
    if config.batch_window_s < 0:
        raise ModelSpecError(f"{where}: batch_window_s must be >= 0 seconds, got {config.batch_window_s}")
    if config.batch_poll_s <= 0 or config.batch_poll_max_s < config.batch_poll_s:
        raise ModelSpecError(f"{where}: batch_poll_s must be > 0 and batch_poll_max_s at least batch_poll_s, "
                             f"got {config.batch_poll_s} and {config.batch_poll_max_s}")
    if config.batch_resubmits < 0:
        raise ModelSpecError(f"{where}: batch_resubmits must be >= 0, got {config.batch_resubmits}")


def enable_batch(configs: list[ModelConfig]) -> None:
    """``--batch``: turn batch mode on for every model in ``configs`` whose backend has a batch API;
    raise :class:`ModelSpecError` when none has."""
    able = [c for c in configs if supports_batch(c.backend)]
    if configs and not able:
        specs = ", ".join(c.spec or c.backend for c in configs)
        raise ModelSpecError(f"--batch: none of this recipe's models has a batch API ({specs}); batch mode works with "
                             f"{' and '.join(PROVIDERS)} models: drop --batch or use such a model")
    for config in able:
        config.batch = True


def check_batch_engine(configs: Iterable[ModelConfig], engine: str) -> None:
    """Batch mode runs on the local engine (its journal lives in the driver's ``.state/``)."""
    batched = [c.name for c in configs if c.batch]
    if batched and engine != "local":
        raise ModelSpecError(f"model {batched[0]!r} is in batch mode, which runs on the local engine only: drop "
                             f"--engine {engine} for this run (the provider does the work; a cluster adds nothing)")
