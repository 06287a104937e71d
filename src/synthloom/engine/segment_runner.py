"""Streams one segment: head → fused chain → partition shards, with back-pressure and exact resume.

The head's items are numbered in order and cut into partitions of ``partition_size``. Workers
(as many as the models can keep busy) pull items from a bounded queue and push each through the
chain concurrently; a partition is committed — its data, rejected and error shards renamed into
place, then a journal line — as soon as all of its items are done. Within a partition, rows are
sorted by their position (and child index for expansions), so the shards are identical whatever
the order in which model answers came back. Committed partitions are skipped on a rerun.

With ``verify_source``, a source-headed segment records a digest of each partition's source records
and, on a rerun, holds a committed partition's records until they are all read: the partition is
kept when they are the records it was made from and recomputed otherwise, and committed partitions
past the end of the source are dropped. So a run under a larger (or smaller) ``-n`` keeps the full
partitions of a prefix of the source and gives exactly the rows of a run made with that ``-n``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
import xxhash

from ..io.storage import storage_problem
from ..llm.types import BudgetExceeded, ModelError
from ..llm.usage import current_step
from ..pipeline.step import Rejected, RejectedRow, StreamStep
from ..records import ID, derive_id, user_columns
from ..records_text import has_lone_surrogate, storable
from .accounting import StepCounts
from .outputs import SegmentOutputs

_DONE = object()


class RunStopped(Exception):
    """The run stopped before the end for a reason the user can act on (budget, failing model);
    what was committed stays, and rerunning the same command resumes."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


@dataclass
class _Partition:
    index: int
    pending: int = 0
    sealed: bool = False
    results: list[tuple[tuple, str, dict[str, Any]]] = field(default_factory=list)
    counts: dict[str, StepCounts] = field(default_factory=dict)
    retry: int = 0  # error rows caused by the model failing (retried on a rerun)
    source: Any = None  # digest of the source records (verify_source), updated as they are queued

    def count(self, step: str) -> StepCounts:
        c = self.counts.get(step)
        if c is None:
            c = self.counts[step] = StepCounts()
        return c


class SegmentRunner:
    """Runs one segment to completion (or until a :class:`RunStopped`)."""

    def __init__(
        self,
        name: str,
        head_name: str | None,
        head_items: Callable[[], Iterator[Any]],
        chain: list[StreamStep],
        outputs: SegmentOutputs,
        journal: Any,
        *,
        partition_size: int,
        window: int,
        io_pool: ThreadPoolExecutor,
        live: Callable[[str, str, int], None] | None = None,
        head_is_source: bool = False,
        max_consecutive_model_failures: int = 25,
        log: Callable[[str], None] | None = None,
        verify_source: bool = False,
    ) -> None:
        self.name = name
        self.head_name = head_name
        self.head_items = head_items
        self.chain = chain
        self.outputs = outputs
        self.journal = journal
        self.partition_size = partition_size
        self.window = window
        self.io_pool = io_pool
        self.live = live or (lambda step, what, n: None)
        self.head_is_source = head_is_source
        self.log = log or (lambda message: None)
        self.max_failures = max_consecutive_model_failures
        self.verify_source = verify_source and head_is_source
        self._consecutive_failures = 0
        self._commit_lock = asyncio.Lock()

    async def run(self) -> int:
        """Process every uncommitted partition; return the number of partitions."""
        done = self.journal.done(self.name)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=self.window)
        partitions: dict[int, _Partition] = {}
        commits: set[asyncio.Task] = set()
        failure: list[BaseException] = []

        async def finish(part: _Partition) -> None:
            partitions.pop(part.index, None)
            task = asyncio.create_task(self._commit(part))
            commits.add(task)
            task.add_done_callback(lambda t: _commit_done(t, commits, failure))

        async def worker() -> None:
            while True:
                item = await queue.get()
                if item is _DONE:
                    return
                if failure:
                    continue  # keep draining so the producer never blocks on a full queue
                part, idx, payload = item
                try:
                    await self._process_item(part, idx, payload)
                except Exception as e:  # noqa: BLE001 - RunStopped, or a bug: stop cleanly, commit nothing partial
                    failure.append(e)
                    continue
                part.pending -= 1
                if part.sealed and part.pending == 0:
                    await finish(part)

        workers = [asyncio.create_task(worker()) for _ in range(self.window)]
        iterator = self.head_items()
        if hasattr(iterator, "__anext__"):  # an async source (aread) runs on the loop
            next_batch = lambda: _atake(iterator, 256, self.head_name or "")  # noqa: E731
        else:
            next_batch = lambda: loop.run_in_executor(self.io_pool, _take, iterator, 256)  # noqa: E731
        position = 0
        current: _Partition | None = None
        held: _Held | None = None  # a committed partition's records, until they are checked

        async def enqueue(p: int, idx: int, payload: Any) -> None:
            nonlocal current
            if current is None or current.index != p:
                if current is not None:
                    await self._seal(current, finish)
                current = partitions[p] = _Partition(p)
                if self.verify_source:
                    current.source = xxhash.xxh3_128()
            current.pending += 1
            if current.source is not None:
                _digest_update(current.source, payload)
            await queue.put((current, idx, payload))

        async def settle(h: _Held) -> None:
            """Keep a committed partition whose records are those it was made from; else recompute it."""
            if self.journal.partitions[self.name][h.index].get("src") == h.digest.hexdigest():
                return
            await self._drop(h.index)
            done.discard(h.index)
            for idx, payload in h.items:
                await enqueue(h.index, idx, payload)
                if failure:
                    return

        try:
            while not failure:
                batch = await next_batch()
                if not batch:
                    break
                for payload in batch:
                    p = position // self.partition_size
                    idx = position % self.partition_size
                    position += 1
                    if held is not None and held.index != p:
                        await settle(held)
                        held = None
                    if p in done:
                        if self.verify_source:
                            held = held or _Held(p)
                            held.add(idx, payload)
                        continue
                    await enqueue(p, idx, payload)
                    if failure:
                        break
            if held is not None and not failure:
                await settle(held)
            if current is not None and not failure:
                await self._seal(current, finish)
            if self.verify_source and not failure:
                end = (position + self.partition_size - 1) // self.partition_size
                for stale in sorted(p for p in self.journal.partitions.get(self.name, {}) if p >= end):
                    await self._drop(stale)
            for _ in workers:
                await queue.put(_DONE)
            await asyncio.gather(*workers)
        except BaseException:
            if hasattr(iterator, "aclose"):
                await iterator.aclose()
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await asyncio.gather(*list(commits), return_exceptions=True)
            raise
        await asyncio.gather(*list(commits))
        if failure:
            raise failure[0]
        return (position + self.partition_size - 1) // self.partition_size

    async def _drop(self, index: int) -> None:
        """Forget committed partition ``index`` (journal first, then its shards)."""
        loop = asyncio.get_running_loop()
        async with self._commit_lock:
            await loop.run_in_executor(self.io_pool, self.journal.drop_partition, self.name, index)
        await loop.run_in_executor(self.io_pool, self.outputs.remove_partition, index)

    async def _seal(self, part: _Partition, finish: Callable) -> None:
        part.sealed = True
        if part.pending == 0:
            await finish(part)

    # -- one item through the chain --------------------------------------------------------------
    async def _process_item(self, part: _Partition, idx: int, payload: Any) -> None:
        key = (idx,)
        if self.head_name is not None:
            head = part.count(self.head_name)
            head.rows_in += 1
            if isinstance(payload, RejectedRow):
                head.rejected += 1
                self.live(self.head_name, "rejected", 1)
                part.results.append((key, "rejected", _rejected_row(self.head_name, payload.record, payload.verdict)))
                return
            head.ok += 1
            head.rows_out += 1
            self.live(self.head_name, "out", 1)
            if self.head_is_source:
                if not isinstance(payload.get(ID), str) or not payload.get(ID):
                    payload[ID] = derive_id("", self.head_name, part.index * self.partition_size + idx)
        await self._run_chain(part, payload, 0, key)

    async def _run_chain(self, part: _Partition, record: dict[str, Any], i: int, key: tuple) -> None:
        if i == len(self.chain):
            part.results.append((key, "data", record))
            return
        step = self.chain[i]
        counts = part.count(step.name)
        counts.rows_in += 1
        token = current_step.set(step.name)  # attributes model usage to this step
        try:
            out = await step.process(record)
        except BudgetExceeded as e:
            raise RunStopped(str(e), "stopped: budget reached") from None
        except (asyncio.CancelledError, RunStopped):
            raise
        except Exception as e:
            if storage_problem(e) is not None:  # the disk, not the row: stop the run, keep no error row
                raise
            counts.errors += 1
            self.live(step.name, "errors", 1)
            if is_model_failure(e):
                part.retry += 1
            self._note_failure(step, e)
            part.results.append((key, "error", _error_row(step.name, record, e)))
            return
        finally:
            current_step.reset(token)
        if step.models:
            self._consecutive_failures = 0
        if isinstance(out, Rejected):
            counts.rejected += 1
            self.live(step.name, "rejected", 1)
            part.results.append((key, "rejected", _rejected_row(step.name, record, out)))
            return
        counts.ok += 1
        counts.rows_out += len(out)
        self.live(step.name, "out", len(out))
        if len(out) == 1:
            await self._run_chain(part, out[0], i + 1, key)
        else:
            for j, child in enumerate(out):
                await self._run_chain(part, child, i + 1, key + (j,))

    def _note_failure(self, step: StreamStep, e: Exception) -> None:
        """Stop the run when the model keeps failing (server down, bad key, unknown model): rows would
        only pile up as errors. A bad answer for one row (structured output) does not count."""
        if not is_model_failure(e):
            return
        self._consecutive_failures += 1
        if self._consecutive_failures >= self.max_failures:
            raise RunStopped(
                f"step {step.name!r}: the model failed {self._consecutive_failures} times in a row "
                f"(last error: {e}). Committed rows are kept; fix the cause and rerun the same command to resume",
                "stopped: model failing",
            )

    # -- committing a partition --------------------------------------------------------------------
    async def _commit(self, part: _Partition) -> None:
        part.results.sort(key=lambda r: r[0])
        rows = {"data": [], "rejected": [], "error": []}
        for _, kind, row in part.results:
            rows[kind].append(row)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self.io_pool, self.outputs.write_partition, part.index, rows)
        except UnicodeEncodeError:  # a lone surrogate somewhere: UTF-8 files cannot hold it
            bad = sum(has_lone_surrogate(r) for kind in rows.values() for r in kind)
            rows = {kind: [storable(r) if has_lone_surrogate(r) else r for r in kind_rows]
                    for kind, kind_rows in rows.items()}
            self.log(f"{self.name}: {bad} row(s) of partition {part.index} held text that is not valid Unicode "
                     "(lone surrogates); those characters are stored as U+FFFD")
            await loop.run_in_executor(self.io_pool, self.outputs.write_partition, part.index, rows)
        counts = {step: c.to_dict() for step, c in part.counts.items()}
        async with self._commit_lock:
            await loop.run_in_executor(
                self.io_pool,
                self.journal.commit_partition,
                self.name,
                part.index,
                counts,
                {k: len(v) for k, v in rows.items()},
                part.retry,
                part.source.hexdigest() if part.source is not None else None,
            )


class _Held:
    """The records of a committed partition read again, with their digest."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.items: list[tuple[int, Any]] = []
        self.digest = xxhash.xxh3_128()

    def add(self, idx: int, payload: Any) -> None:
        self.items.append((idx, payload))
        _digest_update(self.digest, payload)


def _digest_update(digest: Any, payload: Any) -> None:
    """Add one source record (or a source's RejectedRow) to a partition's digest."""
    try:
        data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=repr)
    except TypeError:  # e.g. an integer beyond 64 bits
        data = repr(payload).encode("utf-8", "surrogatepass")
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)


def _commit_done(task: asyncio.Task, commits: set[asyncio.Task], failure: list[BaseException]) -> None:
    """A failed commit (a full disk) stops the segment at once instead of being lost with its task."""
    commits.discard(task)
    if not task.cancelled() and task.exception() is not None:
        failure.append(task.exception())


def is_model_failure(e: BaseException) -> bool:
    """The model (server, key, network) failed, as opposed to one unusable answer for one row."""
    return isinstance(e, ModelError) and getattr(e, "raw_text", None) is None


def _take(iterator: Iterator[Any], n: int) -> list[Any]:
    return list(itertools.islice(iterator, n))


async def _atake(iterator: AsyncIterator[Any], n: int, step: str) -> list[Any]:
    """Up to ``n`` items of an async source; the model calls it makes count as ``step``'s usage."""
    out: list[Any] = []
    token = current_step.set(step)
    try:
        async for item in iterator:
            out.append(item)
            if len(out) >= n:
                break
    finally:
        current_step.reset(token)
    return out


def _rejected_row(step: str, record: dict[str, Any], verdict: Rejected) -> dict[str, Any]:
    row = dict(record)
    row["_rejected_by"] = step
    row["_reason"] = verdict.reason
    row["_score"] = verdict.score
    if verdict.duplicate_of is not None:
        row["_duplicate_of"] = verdict.duplicate_of
    return row


def _error_row(step: str, record: dict[str, Any], e: Exception) -> dict[str, Any]:
    raw = getattr(e, "raw_text", None)
    message = str(e) or type(e).__name__
    return {
        ID: record.get(ID),
        "_step": step,
        "_error": message,
        "_error_type": type(e).__name__,
        "_raw_text": raw,
        "_record": orjson.dumps(storable(user_columns(record)), default=str).decode(),
    }
