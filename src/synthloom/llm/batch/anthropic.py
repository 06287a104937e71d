"""Anthropic's Message Batches API as a :class:`~synthloom.llm.batch.provider.BatchProvider`.

A batch is one ``POST /v1/messages/batches`` of ``{"custom_id", "params"}`` items, where ``params`` is
exactly the body :class:`~synthloom.llm.backends.anthropic.AnthropicBackend` sends for that request
alone; it is followed with ``GET /v1/messages/batches/ID`` and its results read as JSONL from
``.../ID/results``, each ``succeeded`` message decoded by the same backend, so a batch answer is the
answer a direct call would have had. The API has no ``n``: a request for n samples travels as n items
(``CUSTOM_ID-nK``) and comes back as one response once all of them have. ``errored`` items become the
error their type stands for (``invalid_request_error`` cannot succeed when sent again; ``api_error``,
``overloaded_error`` can), ``expired`` and ``canceled`` ones are left out (not processed: the layer
sends them again). A request the API cannot take at all (log probabilities, a raw prompt) is kept out
of the batch and answered with that error, so it cannot sink the others. Batch prices are half the
normal ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from synthloom.llm.backends.anthropic import AnthropicBackend
from synthloom.llm.batch.provider import BatchItem, BatchState
from synthloom.llm.types import ModelError, PermanentError, Request, Response, TransientError

MAX_BATCH_BYTES = 256 * 1024 * 1024  # the API's limit on one batch's request body
_SAMPLE = re.compile(r"^(.*)-n(\d+)$")
_RETRYABLE = {"api_error", "overloaded_error", "rate_limit_error", "timeout_error"}
_STAND_IN = Request(messages=({"role": "user", "content": ""},))  # decodes a reply whose request is not known


class AnthropicBatchProvider:
    """Message Batches through the model's :class:`AnthropicBackend` (its URL, key, headers, body
    encoder and reply decoder), which it owns from then on."""

    name = "anthropic"
    price_factor = 0.5
    max_items = 100_000

    def __init__(self, backend: AnthropicBackend) -> None:
        if not isinstance(backend, AnthropicBackend):
            raise TypeError(f"AnthropicBatchProvider needs an AnthropicBackend, not {type(backend).__name__}")
        self.backend = backend
        self.batches_url = f"{backend.base_url}/v1/messages/batches"

    def __repr__(self) -> str:
        return f"AnthropicBatchProvider({self.backend.identity!r})"

    async def submit(self, items: list[BatchItem]) -> str:
        entries: list[bytes] = []
        refused: PermanentError | None = None
        for item in items:
            try:
                params = self.backend.request_body(item.request, repeated=item.request.n > 1)
            except PermanentError as error:  # left out; results() answers it with this error
                refused = refused or error
                continue
            ids = [item.custom_id] if item.request.n == 1 else [f"{item.custom_id}-n{k}" for k in range(item.request.n)]
            entries.extend(orjson.dumps({"custom_id": custom_id, "params": params}) for custom_id in ids)
        if not entries:
            assert refused is not None
            raise refused
        body = b'{"requests":[' + b",".join(entries) + b"]}"
        if len(body) > MAX_BATCH_BYTES:
            raise PermanentError(f"{self.backend.label}: a batch of {len(items)} request(s) is {len(body) >> 20} MiB, "
                                 f"over the {MAX_BATCH_BYTES >> 20} MiB the Message Batches API takes; set a smaller "
                                 "batch_size on this model")
        created = await self._json("POST", self.batches_url, body)
        if not isinstance(created.get("id"), str):
            raise TransientError(f"{self.batches_url}: the reply names no batch id")
        return created["id"]

    async def state(self, batch_id: str) -> BatchState:
        data = await self._json("GET", f"{self.batches_url}/{batch_id}")
        counts = {k: int(v or 0) for k, v in (data.get("request_counts") or {}).items()}
        status = data.get("processing_status")
        if status in ("in_progress", "canceling"):
            return BatchState(batch_id, "in_progress", counts)
        if status != "ended":
            raise TransientError(f"{self.backend.identity}: batch {batch_id} has an unknown status {status!r}")
        if data.get("cancel_initiated_at"):
            return BatchState(batch_id, "cancelled", counts, "cancelled")
        if counts.get("expired"):
            return BatchState(batch_id, "expired", counts, f"{counts['expired']} request(s) expired unprocessed")
        return BatchState(batch_id, "ended", counts)

    async def results(self, batch_id: str, requests: Mapping[str, Request]) -> dict[str, Response | ModelError]:
        reply = await self.backend.send("GET", f"{self.batches_url}/{batch_id}/results")
        samples: dict[str, dict[int, dict[str, Any]]] = {}
        out: dict[str, Response | ModelError] = {}
        for line in reply.body.splitlines():
            try:
                entry = orjson.loads(line) if line.strip() else None
                custom_id, result = str(entry["custom_id"]), entry["result"]  # type: ignore[index]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue  # a line we cannot attribute: its item counts as not processed
            m = _SAMPLE.match(custom_id)
            base, k = (m.group(1), int(m.group(2))) if m else (custom_id, 0)
            kind = result.get("type") if isinstance(result, dict) else None
            if kind == "succeeded":
                samples.setdefault(base, {})[k] = result.get("message")
            elif kind == "errored" and base not in out:
                out[base] = self._item_error(custom_id, result.get("error"))
        for base, parts in samples.items():
            if base in out:
                continue
            request = requests.get(base)
            n = request.n if request is not None else max(parts) + 1
            if sorted(parts) != list(range(n)):
                continue  # a sample was not processed: the whole request goes again
            out[base] = self._decode([parts[k] for k in range(n)], request)
        for custom_id, request in requests.items():  # kept out of the batch at submission
            if custom_id not in out:
                try:
                    self.backend.request_body(request)
                except PermanentError as error:
                    out[custom_id] = error
        return out

    def _decode(self, messages: list[Any], request: Request | None) -> Response | ModelError:
        try:
            return self.backend.response_of(messages, request or _STAND_IN.replace(n=len(messages)))
        except ModelError as error:
            return error

    def _item_error(self, custom_id: str, error: Any) -> ModelError:
        inner = error.get("error") if isinstance(error, dict) and isinstance(error.get("error"), dict) else error
        kind = inner.get("type") if isinstance(inner, dict) else None
        text = inner.get("message") if isinstance(inner, dict) else None
        detail = text if isinstance(text, str) else repr(error)
        message = f"{self.backend.label}: batch item {custom_id}: {kind or 'error'}: {detail}"
        return TransientError(message) if kind in _RETRYABLE else PermanentError(message)

    async def cancel(self, batch_id: str) -> None:
        await self._json("POST", f"{self.batches_url}/{batch_id}/cancel", b"")

    async def aclose(self) -> None:
        await self.backend.aclose()

    async def _json(self, method: str, url: str, body: bytes = b"") -> dict[str, Any]:
        reply = await self.backend.send(method, url, body)
        try:
            data = orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            raise TransientError(f"{url}: unparseable JSON in the reply ({exc})") from exc
        if not isinstance(data, dict):
            raise TransientError(f"{url}: the reply is not a JSON object")
        return data
