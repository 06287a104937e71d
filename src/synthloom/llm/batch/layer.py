"""The batching layer: a run's many concurrent model calls answered through a provider's batch API.

Used instead of the rate-limit and retry layers for a model with ``batch: true`` (``llm/client.py``
builds usage → cache → budget → batching). Each ``complete()`` call queues its request under its
cache key (the custom_id); a batch is submitted ``window_s`` after its first request or when it
holds ``batch_size`` requests, journaled (``journal.py``), polled every ``poll_s`` seconds growing
1.5× per poll up to ``poll_max_s``, and each waiting call is resolved with its item's result, which
the cache layer above stores at once. An item that expired, was not processed or failed in a way
worth trying again is submitted again up to ``resubmits`` times, then raised as a
:class:`TransientError` (an error row that a rerun retries); an item the API rejects is raised as
its :class:`PermanentError` at once.

After a crash the journal lists the batches submitted and not settled: a rerun's request whose key
one of them holds waits for that batch (polled, then collected) instead of being submitted again.
A batch is settled (journaled as such) once every item of it has been answered and the response
cache flushed, or given up.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from synthloom.llm.batch.journal import BatchJournal
from synthloom.llm.batch.provider import BatchItem, BatchProvider, BatchState, make_provider
from synthloom.llm.cache import ResponseCache
from synthloom.llm.spec import ModelConfig
from synthloom.llm.types import ModelBackend, ModelError, PermanentError, Request, Response, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(eq=False)
class _Item:
    """One distinct request waiting for its answer (callers of the same request share it)."""

    custom_id: str
    request: Request
    future: asyncio.Future[Response]
    submissions: int = 0
    delivered: bool = False


@dataclass(eq=False)
class _Batch:
    """A batch on the provider's side, as far as this process follows it."""

    id: str
    ids: list[str]
    waiting: dict[str, _Item] = field(default_factory=dict)  # items this process waits for, by custom_id
    open: set[str] = field(default_factory=set)  # custom_ids not answered or given up yet
    outcome: dict[str, Response | ModelError] | None = None  # once collected
    state: BatchState | None = None
    settling: bool = False


class BatchingBackend:
    """Layer answering requests through ``provider``'s batch API (see the module docstring).

    ``backend`` is the model's bare backend, which the provider wraps: its attributes (e.g.
    ``supports_json_schema``) are visible through this layer, and ``identity`` is its identity, so
    batch and direct calls share cache entries. ``journal`` records submitted batches (the run's
    ``.state/batches.jsonl``; an in-memory one when None); ``flush`` makes the response cache
    durable before a batch is settled.
    """

    def __init__(
        self,
        provider: BatchProvider,
        backend: ModelBackend,
        *,
        journal: BatchJournal | None = None,
        flush: Callable[[], Awaitable[None]] | None = None,
        batch_size: int | None = None,
        window_s: float = 2.0,
        poll_s: float = 10.0,
        poll_max_s: float = 300.0,
        resubmits: int = 1,
        call_retries: int = 6,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 60.0,
    ) -> None:
        self.inner = backend  # never called: requests go through the provider
        self.provider = provider
        self.identity = backend.identity
        self.journal = journal if journal is not None else BatchJournal(None)
        self.flush = flush
        self.batch_size = min(batch_size or provider.max_items, provider.max_items)
        self.window_s = window_s
        self.poll_s = poll_s
        self.poll_max_s = max(poll_max_s, poll_s)
        self.resubmits = resubmits
        self.call_retries = call_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._items: dict[str, _Item] = {}
        self._queues: dict[str, list[_Item]] = {}  # by the provider's batch_key
        self._collectors: dict[str, asyncio.Task[None]] = {}
        self._full: dict[str, asyncio.Event] = {}
        self._batches: dict[str, _Batch] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._submitting: set[asyncio.Task[Any]] = set()
        self._journaled_ids: dict[str, list[str]] = {}
        self._holder: dict[str, str] = {}  # custom_id -> newest unsettled journaled batch holding it
        for batch in self.journal.pending_for(self.identity):
            self._journaled_ids[batch.id] = batch.ids
            for custom_id in batch.ids:
                self._holder[custom_id] = batch.id
        self._journaled = dict(self._holder)  # the same, less the requests asked for since
        self.stats = {"batches_submitted": 0, "items_submitted": 0, "items_resubmitted": 0, "batches_collected": 0,
                      "items_from_earlier_runs": 0}

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # -- calls ----------------------------------------------------------------------------------

    async def complete(self, request: Request) -> Response:
        """Answer ``request`` once the batch holding it is collected."""
        custom_id = ResponseCache.key(self.identity, request).hex()
        item = self._items.get(custom_id)
        if item is None:
            item = self._items[custom_id] = _Item(custom_id, request, asyncio.get_running_loop().create_future())
            earlier = self._journaled.pop(custom_id, None)
            if earlier is not None:
                item.submissions = 1
                self.stats["items_from_earlier_runs"] += 1
                self._attach(earlier, item)
            else:
                self._enqueue(item)
        response = await asyncio.shield(item.future)
        if item.delivered:  # another caller of the same request took the original
            response = Response.from_dict(response.to_dict())
        item.delivered = True
        return response

    def _attach(self, batch_id: str, item: _Item) -> None:
        """Let ``item`` wait for a batch an earlier run submitted."""
        batch = self._batches.get(batch_id)
        if batch is None:
            ids = self._journaled_ids.pop(batch_id)
            batch = self._batches[batch_id] = _Batch(batch_id, ids, open=set(ids))
            for custom_id in ids:
                if self._holder.get(custom_id) != batch_id:
                    batch.open.discard(custom_id)  # held by a newer batch too: that one answers it
            self._spawn(self._follow(batch, first_delay=0.0))
        if batch.outcome is not None:
            self._resolve(batch, item)
        else:
            batch.waiting[item.custom_id] = item

    # -- collecting and submitting ----------------------------------------------------------------

    def _enqueue(self, item: _Item) -> None:
        key_of = getattr(self.provider, "batch_key", None)
        key = key_of(item.request) if key_of is not None else ""
        queue = self._queues.setdefault(key, [])
        queue.append(item)
        collector = self._collectors.get(key)
        if collector is None or collector.done():
            self._full[key] = asyncio.Event()
            self._collectors[key] = self._spawn(self._collect(key))
        elif len(queue) >= self.batch_size:
            self._full[key].set()

    async def _collect(self, key: str) -> None:
        queue = self._queues[key]
        full = self._full[key]
        while queue:
            if len(queue) < self.batch_size:
                full.clear()
                try:
                    await asyncio.wait_for(full.wait(), self.window_s)
                except TimeoutError:
                    pass
            items = queue[: self.batch_size]
            del queue[: self.batch_size]
            self._spawn(self._submit(items))

    async def _submit(self, items: list[_Item]) -> None:
        for item in items:
            item.submissions += 1
            if item.submissions > 1:
                self.stats["items_resubmitted"] += 1
        ids = [item.custom_id for item in items]
        # shielded: once sent, the batch is journaled even if the run is being cancelled meanwhile
        task = asyncio.ensure_future(self._submit_and_journal(items, ids))
        self._submitting.add(task)
        task.add_done_callback(self._submitting.discard)
        try:
            batch_id = await asyncio.shield(task)
        except ModelError as error:
            for item in items:
                self._fail(item, _copy(error, f"{self.identity}: submitting a batch of {len(items)} request(s) failed: {error}"))
            return
        batch = self._batches[batch_id] = _Batch(batch_id, ids, waiting={i.custom_id: i for i in items}, open=set(ids))
        await self._follow(batch, first_delay=self.poll_s)

    async def _submit_and_journal(self, items: list[_Item], ids: list[str]) -> str:
        batch_id = await self._call(self.provider.submit, [BatchItem(i.custom_id, i.request) for i in items])
        self.journal.submitted(batch_id, self.identity, ids)
        self.stats["batches_submitted"] += 1
        self.stats["items_submitted"] += len(items)
        log.info("%s: submitted batch %s with %d request(s)", self.identity, batch_id, len(items))
        return batch_id

    async def _follow(self, batch: _Batch, first_delay: float) -> None:
        """Poll ``batch`` until the provider is done with it, then collect and hand out its results."""
        delay = first_delay
        try:
            while True:
                await asyncio.sleep(delay)
                delay = self.poll_s if delay == 0 else min(delay * 1.5, self.poll_max_s)
                state = await self._call(self.provider.state, batch.id)
                if state.finished:
                    break
            batch.state = state
            requests = {c: i.request for c, i in batch.waiting.items()}
            batch.outcome = await self._call(self.provider.results, batch.id, requests)
        except PermanentError as error:  # e.g. the provider no longer knows the batch: its items go again
            log.warning("%s: batch %s cannot be followed: %s", self.identity, batch.id, error)
            batch.state = BatchState(batch.id, "failed", message=str(error))
            batch.outcome = {}
        except ModelError as error:  # the provider stayed unreachable: the batch stays journaled for a rerun
            self._batches.pop(batch.id, None)
            self._journaled_ids[batch.id] = batch.ids  # a later ask in this run polls it again
            for custom_id in batch.open:
                self._journaled[custom_id] = self._holder[custom_id] = batch.id
            for item in batch.waiting.values():
                self._fail(item, TransientError(f"{self.identity}: could not poll batch {batch.id} ({error}); it stays "
                                                "journaled: rerun the same command to collect it"))
            return
        self.stats["batches_collected"] += 1
        if batch.state.status != "ended" or len(batch.outcome) < len(batch.ids):
            log.info("%s: batch %s %s; %d of %d request(s) answered", self.identity, batch.id, batch.state.status,
                     sum(isinstance(r, Response) for r in batch.outcome.values()), len(batch.ids))
        for item in list(batch.waiting.values()):
            self._resolve(batch, item)
        batch.waiting.clear()
        self._maybe_settle(batch)

    def _resolve(self, batch: _Batch, item: _Item) -> None:
        """Answer ``item`` from ``batch``'s collected outcome, submit it again, or give up."""
        assert batch.outcome is not None and batch.state is not None
        batch.open.discard(item.custom_id)
        result = batch.outcome.pop(item.custom_id, None)
        if isinstance(result, Response) and len(result.choices) < item.request.n:
            result = TransientError(f"{self.identity}: batch {batch.id} answered {len(result.choices)} of "
                                    f"{item.request.n} choices")
        if isinstance(result, Response):
            self._items.pop(item.custom_id, None)
            item.future.set_result(result)
        elif isinstance(result, ModelError) and not result.retryable:
            self._fail(item, result)
        elif item.submissions <= self.resubmits:
            self._enqueue(item)
        else:
            why = str(result) if result is not None else _unprocessed(batch.state)
            self._fail(item, TransientError(
                f"{self.identity}: no answer after {item.submissions} batch submission(s) (last: batch {batch.id}, "
                f"{why}); rerun the same command to try this request again"))
        self._maybe_settle(batch)

    def _fail(self, item: _Item, error: ModelError) -> None:
        self._items.pop(item.custom_id, None)
        item.future.set_exception(error)
        item.future.exception()  # retrieved: no caller left is not an error

    def _maybe_settle(self, batch: _Batch) -> None:
        if not batch.open and not batch.settling and batch.outcome is not None:
            batch.settling = True
            self._spawn(self._settle(batch))

    async def _settle(self, batch: _Batch) -> None:
        # let the resolved callers run on (the cache layer stores their answers), then make the
        # cache durable before the journal says this batch is no longer needed
        for _ in range(3):
            await asyncio.sleep(0)
        if self.flush is not None:
            await self.flush()
        self.journal.settled(batch.id)
        self._batches.pop(batch.id, None)

    # -- plumbing -------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``fn(*args)``, tried again after retryable errors with full-jitter backoff."""
        attempt = 0
        while True:
            try:
                return await fn(*args)
            except ModelError as error:
                attempt += 1
                if not error.retryable or attempt > self.call_retries:
                    raise
                delay = random.uniform(0.0, min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1)))
                await asyncio.sleep(max(delay, error.retry_after or 0.0))

    def _spawn(self, coro: Awaitable[T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("%s: batch task failed: %s", self.identity, error, exc_info=error)
            for item in list(self._items.values()):  # a bug must not leave callers waiting forever
                if not item.future.done():
                    self._fail(item, TransientError(f"{self.identity}: batch handling failed: {error}"))

    async def aclose(self) -> None:
        """Stop following batches (they stay journaled for a rerun), wait for submissions in flight
        to be journaled, settle what was fully answered, and close the provider."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._submitting:
            await asyncio.wait(list(self._submitting), timeout=60)
        for item in list(self._items.values()):
            if not item.future.done():
                self._fail(item, TransientError(f"{self.identity}: the model was closed before its batch was collected"))
        for batch in list(self._batches.values()):
            if batch.outcome is not None and not batch.open:
                self.journal.settled(batch.id)
        self._batches.clear()
        await self.provider.aclose()


def build_batching(config: ModelConfig, backend: ModelBackend, *, journal: BatchJournal | None = None,
                   flush: Callable[[], Awaitable[None]] | None = None) -> tuple[BatchingBackend, float]:
    """The batching layer for ``config`` over its bare ``backend``, and the provider's price factor."""
    provider = make_provider(config, backend)
    layer = BatchingBackend(
        provider, backend, journal=journal, flush=flush, batch_size=config.batch_size, window_s=config.batch_window_s,
        poll_s=config.batch_poll_s, poll_max_s=config.batch_poll_max_s, resubmits=config.batch_resubmits,
        call_retries=config.max_retries, backoff_base_s=config.backoff_base_s, backoff_max_s=config.backoff_max_s,
    )
    return layer, provider.price_factor


def _copy(error: ModelError, message: str) -> ModelError:
    copy = type(error)(message, retry_after=error.retry_after, status=error.status)
    return copy


def _unprocessed(state: BatchState) -> str:
    detail = f": {state.message}" if state.message else ""
    return f"not processed, the batch {state.status}{detail}"
