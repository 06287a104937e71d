"""Prefix-aware order for requests waiting for a concurrency slot.

Servers keep the KV cache of prompts they have just seen (vLLM's automatic prefix caching, SGLang's radix
cache, llama.cpp server slots with ``cache_prompt``, llama-cpp-python's reuse of the previous prompt's common
prefix), so a request whose prompt starts like the one before it is prefilled only past the shared part. A
pipeline rarely sends them that way: a judge step's rubric-sharing prompts arrive interleaved with a generator's.

:class:`PrefixWaiters` is the queue of requests waiting for a slot of one model. When a slot frees it goes to
the oldest waiter whose prompt starts like the request sent last (the same :func:`prefix_key`), else to the
oldest waiter; so requests sharing a prefix go out one after another. Reordering is bounded: a waiter is passed
over at most ``max_bypass`` times (then it goes next whatever its prefix) and only the first ``window`` waiters
are looked at, so nothing starves and the order stays close to arrival order. Order of sending never changes
what a request returns, and output rows keep their own order whatever order answers come in.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from .limits import AdaptiveLimit

#: characters of prompt text that make a prefix key: about 64 tokens, short enough that prompts sharing a
#: template or a rubric share it, long enough that a shared system line alone rarely groups anything
PREFIX_CHARS = 256


def prefix_key(request: Any) -> int | None:
    """A hash of the first :data:`PREFIX_CHARS` characters of the request's prompt (chat: roles and contents
    in order), or None for a shorter prompt (nothing worth grouping)."""
    if request is None:
        return None
    prompt = getattr(request, "prompt", None)
    if prompt is None:
        parts: list[str] = []
        size = 0
        for message in getattr(request, "messages", None) or ():
            content = message.get("content")
            text = content if isinstance(content, str) else str(content)
            parts.append(str(message.get("role")))
            parts.append(text)
            size += len(text) + 8
            if size >= PREFIX_CHARS:
                break
        prompt = "\x00".join(parts)
    if len(prompt) < PREFIX_CHARS:
        return None
    return hash(prompt[:PREFIX_CHARS])


class _Waiter:
    __slots__ = ("future", "key", "bypassed")

    def __init__(self, future: asyncio.Future[None], key: int | None) -> None:
        self.future = future
        self.key = key
        self.bypassed = 0


class PrefixWaiters:
    """Futures waiting for a slot, handed out prefix group by prefix group (see the module docstring)."""

    def __init__(self, max_bypass: int = 32, window: int = 256) -> None:
        if max_bypass < 0 or window < 1:
            raise ValueError("max_bypass must be >= 0 and window >= 1")
        self.max_bypass = max_bypass
        self.window = window
        self._queue: collections.deque[_Waiter] = collections.deque()
        self._waiting: collections.Counter[int] = collections.Counter()  # live waiters per key
        self.last_key: int | None = None
        self.regrouped = 0  # slots given out of arrival order

    def __len__(self) -> int:
        return len(self._queue)

    def append(self, future: asyncio.Future[None], key: int | None) -> None:
        self._queue.append(_Waiter(future, key))
        if key is not None:
            self._waiting[key] += 1

    def _drop(self, waiter: _Waiter) -> None:
        if waiter.key is not None:
            left = self._waiting[waiter.key] - 1
            if left:
                self._waiting[waiter.key] = left
            else:
                del self._waiting[waiter.key]

    def has_live(self) -> bool:
        """Whether a waiter that is not cancelled is queued (cancelled ones are dropped on the way)."""
        queue = self._queue
        while queue and queue[0].future.done():
            self._drop(queue.popleft())
        return bool(queue)

    def pop(self) -> asyncio.Future[None] | None:
        """The future of the waiter that gets the next slot (removed from the queue), or None if none waits."""
        if not self.has_live():
            return None
        queue = self._queue
        head = queue[0]
        key = self.last_key
        if key is not None and head.key != key and head.bypassed < self.max_bypass and self._waiting.get(key):
            for i in range(1, min(len(queue), self.window)):
                waiter = queue[i]
                if waiter.key == key and not waiter.future.done():
                    for j in range(i):
                        queue[j].bypassed += 1
                    del queue[i]
                    self._drop(waiter)
                    self.regrouped += 1
                    return waiter.future
        queue.popleft()
        self._drop(head)
        self.last_key = head.key
        return head.future



class PrefixGroupedLimit(AdaptiveLimit):
    """An AIMD concurrency limit (:class:`~synthloom.llm.limits.AdaptiveLimit`) whose waiters get free slots
    prefix group by prefix group (:class:`PrefixWaiters`)."""

    def __init__(self, max_limit: int, adaptive: bool = True, max_bypass: int = 32, window: int = 256) -> None:
        super().__init__(max_limit, adaptive)
        self.waiting = PrefixWaiters(max_bypass, window)

    async def acquire(self, request: Any = None) -> None:
        key = prefix_key(request)
        if self.in_flight < self.limit and not self.waiting.has_live():
            self.in_flight += 1
            self.waiting.last_key = key
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(fut, key)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # granted just as we were cancelled: hand the slot on
            raise

    def _wake(self) -> None:
        limit = self.limit
        while self.in_flight < limit:
            fut = self.waiting.pop()
            if fut is None:
                return
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)
