"""OpenAI's Batch API (``/v1/files`` + ``/v1/batches``) as a :class:`~synthloom.llm.batch.provider.BatchProvider`.

A batch is one JSONL file uploaded with purpose ``batch`` (one line per request: ``custom_id``,
``method``, ``url``, ``body``), then a batch created over it with ``completion_window`` ``24h``. Each
body is exactly what :class:`~synthloom.llm.backends.openai.OpenAIBackend` sends for that request
alone (its ``request_body``), and each reply line is decoded by the same backend, so a batch answer
is the answer a direct call would have had. Chat and raw-completion requests go to different
batches (a batch serves one endpoint). Batch prices are half the normal ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from synthloom.llm.backends.openai import OpenAIBackend, _server_message
from synthloom.llm.batch.provider import BatchItem, BatchState
from synthloom.llm.http_client import ConnectFailed, HTTPClient, HTTPError, HTTPResponse, RequestTimeout
from synthloom.llm.types import ModelError, PermanentError, Request, Response, Timeout, TransientError

ENDPOINTS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
_STATUS = {"validating": "in_progress", "in_progress": "in_progress", "finalizing": "in_progress",
           "cancelling": "in_progress", "completed": "ended", "expired": "expired", "failed": "failed",
           "cancelled": "cancelled"}
_NOT_PROCESSED = ("batch_expired", "batch_cancelled")


class OpenAIBatchProvider:
    """Batches through an OpenAI-compatible server's ``/files`` and ``/batches`` endpoints, with the
    model's :class:`OpenAIBackend` (its URL, key, headers, encoder and decoder)."""

    name = "openai"
    price_factor = 0.5
    max_items = 50_000
    completion_window = "24h"

    def __init__(self, backend: OpenAIBackend) -> None:
        if not isinstance(backend, OpenAIBackend):
            raise TypeError(f"OpenAIBatchProvider needs an OpenAIBackend, not {type(backend).__name__}")
        self.backend = backend
        headers = {k: v for k, v in backend._headers.items() if k.lower() != "content-type"}
        self._http = HTTPClient(max_connections=4, timeout=max(backend.config.timeout_s or 0.0, 600.0), headers=headers)

    def __repr__(self) -> str:
        return f"OpenAIBatchProvider({self.backend.identity!r})"

    def batch_key(self, request: Request) -> str:
        """``chat`` or ``completions``: the endpoint ``request`` goes to (a batch serves one)."""
        return "chat" if self.backend._is_chat(request) else "completions"

    async def submit(self, items: list[BatchItem]) -> str:
        kinds = {self.batch_key(item.request) for item in items}
        if len(kinds) != 1:
            raise PermanentError(f"{self.backend.identity}: one batch cannot mix chat and raw-completion requests")
        kind = kinds.pop()
        endpoint = ENDPOINTS[kind]
        with_schema = self.backend.supports_json_schema is not False
        lines = [orjson.dumps({"custom_id": item.custom_id, "method": "POST", "url": endpoint,
                               "body": self.backend.request_body(item.request, kind == "chat", with_schema)})
                 for item in items]
        uploaded = await self._json("POST", "/files", *_multipart(b"\n".join(lines) + b"\n"))
        created = await self._json("POST", "/batches", orjson.dumps({
            "input_file_id": uploaded["id"], "endpoint": endpoint, "completion_window": self.completion_window,
            "metadata": {"created_by": "synthloom"}}), "application/json")
        return str(created["id"])

    async def state(self, batch_id: str) -> BatchState:
        data = await self._json("GET", f"/batches/{batch_id}")
        status = _STATUS.get(str(data.get("status")))
        if status is None:
            raise TransientError(f"{self.backend.identity}: batch {batch_id} has an unknown status {data.get('status')!r}")
        counts = data.get("request_counts") or {}
        total, done, failed = (int(counts.get(k) or 0) for k in ("total", "completed", "failed"))
        errors = (data.get("errors") or {}).get("data") or []
        message = "; ".join(str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict))
        return BatchState(batch_id, status, {"succeeded": done, "errored": failed,
                                             "processing": max(total - done - failed, 0)}, message)

    async def results(self, batch_id: str, requests: Mapping[str, Request]) -> dict[str, Response | ModelError]:
        data = await self._json("GET", f"/batches/{batch_id}")
        out: dict[str, Response | ModelError] = {}
        for file_id in (data.get("output_file_id"), data.get("error_file_id")):
            if not file_id:
                continue
            content = (await self._request("GET", f"/files/{file_id}/content")).body
            for line in content.splitlines():
                if not line.strip():
                    continue
                try:
                    entry = orjson.loads(line)
                    custom_id = str(entry["custom_id"])
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue  # a line we cannot attribute: its item counts as not processed
                outcome = self._outcome(entry, requests.get(custom_id))
                if outcome is not None:
                    out[custom_id] = outcome
        return out

    def _outcome(self, entry: dict[str, Any], request: Request | None) -> Response | ModelError | None:
        response = entry.get("response")
        error = entry.get("error")
        url = f"{self.backend.base_url}/batches (item {entry.get('custom_id')})"
        if isinstance(response, dict) and response.get("status_code") == 200:
            body = response.get("body")
            try:
                chat = self.backend._is_chat(request) if request is not None else _is_chat_reply(body)
                return self.backend._parse(body, chat, request or _stand_in(chat))
            except (KeyError, TypeError, AttributeError, IndexError) as exc:
                return TransientError(f"{url}: unexpected reply shape ({type(exc).__name__}: {exc})")
            except ModelError as exc:
                return exc
        if isinstance(response, dict) and isinstance(response.get("status_code"), int):
            reply = HTTPResponse(response["status_code"], {}, orjson.dumps(response.get("body") or {}), url)
            return self.backend._status_error(url, reply)
        if isinstance(error, dict):
            if error.get("code") in _NOT_PROCESSED:
                return None
            return TransientError(self.backend._redact(f"{url}: {error.get('code')}: {error.get('message')}"))
        return None

    async def cancel(self, batch_id: str) -> None:
        await self._json("POST", f"/batches/{batch_id}/cancel", b"", "application/json")

    async def aclose(self) -> None:
        try:
            await self._http.aclose()
        finally:
            await self.backend.aclose()

    async def _json(self, method: str, path: str, body: bytes = b"", content_type: str | None = None) -> dict[str, Any]:
        reply = await self._request(method, path, body, content_type)
        try:
            data = orjson.loads(reply.body)
        except orjson.JSONDecodeError as exc:
            raise TransientError(f"{reply.url}: unparseable JSON in the reply ({exc})") from exc
        if not isinstance(data, dict) or (method == "POST" and "id" not in data):
            raise TransientError(f"{reply.url}: unexpected reply {_server_message(reply.body)}")
        return data

    async def _request(self, method: str, path: str, body: bytes = b"", content_type: str | None = None) -> HTTPResponse:
        url = self.backend.base_url + path
        redact = self.backend._redact
        try:
            reply = await self._http.request(method, url, body, headers={"Content-Type": content_type} if content_type else None)
        except ConnectFailed as exc:
            raise TransientError(redact(str(exc))) from exc
        except RequestTimeout as exc:
            raise Timeout(redact(str(exc))) from exc
        except HTTPError as exc:
            raise TransientError(redact(str(exc))) from exc
        if reply.status == 404:
            raise PermanentError(redact(f"{url}: HTTP 404: {_server_message(reply.body)} (does this server offer "
                                        "OpenAI's batch API, /files and /batches? batch mode needs it)"), status=404)
        if reply.status != 200:
            raise self.backend._status_error(url, reply)
        return reply


def _multipart(jsonl: bytes) -> tuple[bytes, str]:
    """The form of a batch input upload: ``purpose=batch`` and the JSONL file."""
    boundary = f"synthloom-{uuid.uuid4().hex}"
    b = boundary.encode()
    body = b"".join((
        b"--", b, b'\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n',
        b"--", b, b'\r\nContent-Disposition: form-data; name="file"; filename="synthloom-batch.jsonl"\r\n',
        b"Content-Type: application/jsonl\r\n\r\n", jsonl, b"\r\n--", b, b"--\r\n"))
    return body, f"multipart/form-data; boundary={boundary}"


def _is_chat_reply(body: Any) -> bool:
    if not isinstance(body, dict):
        return True
    if body.get("object") == "chat.completion":
        return True
    choices = body.get("choices")
    return bool(choices) and isinstance(choices[0], dict) and "message" in choices[0]


def _stand_in(chat: bool) -> Request:
    """A request to decode a reply with when the original is not known (after a restart): it keeps
    whatever log probabilities the reply carries."""
    if chat:
        return Request(messages=({"role": "user", "content": ""},), logprobs=True, top_logprobs=20)
    return Request(prompt="", logprobs=True, top_logprobs=20)
