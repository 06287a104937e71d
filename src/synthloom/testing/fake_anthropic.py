"""A deterministic, fault-injecting fake of Anthropic's Messages API and Message Batches API.

It is the fake OpenAI server (``fake_server``) with another API behind the same HTTP machinery, so
everything that server injects works here too: ``[[fault:KIND]]``/``[[fault:KIND:K]]`` directives in
the last user turn (``429`` with ``retry-after``, ``529`` overloaded, ``500``, ``400``, ``stall``,
``truncate``, ``reset``, ``malformed``), server-wide faults, latency, keep-alive timeouts, and the
``/_stats``/``/_last_request`` control endpoints. Replies are scripted as in ``fake_anthropic_replies``.

Endpoints: ``POST /v1/messages``; ``POST /v1/messages/batches`` (create), ``GET
/v1/messages/batches/ID`` (retrieve), ``GET /v1/messages/batches/ID/results`` (JSONL, once ended),
``POST /v1/messages/batches/ID/cancel``. Every request needs an ``anthropic-version`` header and,
when ``api_key`` is set, ``x-api-key: <api_key>``.

Batches, with the options and directives of the fake OpenAI batch API (``fake_batches``): a batch
stays ``in_progress`` for ``batch_polls`` retrievals, at least ``batch_delay_s`` seconds and while
``batch_hold`` is set (until ``POST /_batches/release``): slow completion. Each item is answered as
``/v1/messages`` would answer it at submission: a fault directive makes that item ``errored``
(``[[fault:KIND:K]]`` counts submissions of the same item, so a resubmission succeeds), as does every
``batch_error_every``-th item (an ``api_error``): partial failure. An item holding
``[[batch:expire]]`` (``[[batch:expire:K]]``: in its first K submissions) is left ``expired``, as is
every item of the first ``batch_expire_first`` batches. ``/_stats`` counts them under ``batches``:
``created``, ``items`` (submitted), ``cancelled`` and ``max_item_submissions`` (the most times one
custom_id was submitted).
"""

from __future__ import annotations

import datetime
import re
import time
from dataclasses import dataclass
from typing import Any

import orjson

from synthloom.testing import fake_anthropic_replies as replies
from synthloom.testing.fake_batches import _expires
from synthloom.testing.fake_protocol import FakeServerProtocol, ServerState
from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig
from synthloom.testing.fake_server import main as serve_main

_BATCH_PATH = re.compile(r"^/v1/messages/batches/([A-Za-z0-9_-]+)(/results|/cancel)?$")
_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass
class FakeAnthropicConfig(FakeServerConfig):
    """Settings of a :class:`FakeAnthropicServer`: those of the fake OpenAI server plus the batches'."""

    model: str = "claude-fake"
    batch_polls: int = 0  # retrievals a batch stays in_progress for (besides batch_delay_s and batch_hold)
    batch_error_every: int = 0  # every k-th item of a batch fails (api_error)
    max_batch_requests: int = 100_000


def _now(offset_s: float = 0.0) -> str:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=offset_s)
    return when.isoformat().replace("+00:00", "Z")


class _Batch:
    """One batch: its outcomes are decided at submission and shown once it has ended."""

    def __init__(self, batch_id: str, results: list[dict[str, Any]], state: AnthropicServerState):
        self.id = batch_id
        self.results = results
        self.state = state
        self.created = time.monotonic()
        self.created_at = _now()
        self.polls = 0
        self.ended_at: str | None = None
        self.cancelled_at: str | None = None

    def ended(self, config: FakeAnthropicConfig) -> bool:
        if self.ended_at is None and self.polls > config.batch_polls and not self.state.batches.held and \
                time.monotonic() - self.created >= config.batch_delay_s:
            self.ended_at = _now()
        return self.ended_at is not None

    def final_results(self) -> list[dict[str, Any]]:
        if self.cancelled_at is not None:
            return [{"custom_id": r["custom_id"], "result": {"type": "canceled"}} for r in self.results]
        return self.results

    def to_dict(self, config: FakeAnthropicConfig, root: str) -> dict[str, Any]:
        ended = self.ended(config)
        counts = {"processing": 0 if ended else len(self.results), "succeeded": 0, "errored": 0, "canceled": 0,
                  "expired": 0}
        if ended:
            for r in self.final_results():
                kind = r["result"]["type"]
                counts[kind] = counts.get(kind, 0) + 1
        return {"id": self.id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": counts, "ended_at": self.ended_at, "created_at": self.created_at,
                "expires_at": _now(86400), "archived_at": None, "cancel_initiated_at": self.cancelled_at,
                "results_url": f"{root}/v1/messages/batches/{self.id}/results" if ended else None}


class AnthropicServerState(ServerState):
    """The fake OpenAI server's counters plus the prompt cache and the message batches (kept across
    resets; ``batches`` is the OpenAI batch API's store, whose hold flag applies here too)."""

    def __init__(self, config: FakeAnthropicConfig):
        self.message_batches: dict[str, _Batch] = {}
        self.submissions: dict[str, int] = {}  # custom_id -> times submitted
        self.prompt_cache: set[str] = set()
        super().__init__(config)
        self.version = b"\r\nanthropic-version: "
        self.key = f"\r\nx-api-key: {config.api_key}".lower().encode() if config.api_key else None

    def reset(self) -> None:
        super().reset()
        self.created = self.items = self.cancelled = 0
        self.submissions.clear()

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "batches": {
            "created": self.created, "items": self.items, "cancelled": self.cancelled, "held": self.batches.held,
            "max_item_submissions": max(self.submissions.values(), default=0)}}


class AnthropicProtocol(FakeServerProtocol):
    """One connection of the fake Anthropic server (the HTTP side and the faults are inherited)."""

    state: AnthropicServerState
    config: FakeAnthropicConfig

    def _api(self, method: bytes, path: str, lower: bytes, body: bytes) -> tuple[int, bytes, str | None]:
        st = self.state
        if st.key is not None and st.key + b"\r\n" not in lower + b"\r\n":
            return 401, replies.error_body(401, "invalid x-api-key"), None
        if st.version not in lower:
            return 400, replies.error_body(400, "anthropic-version: header is required"), None
        if path == "/v1/messages":
            if method != b"POST":
                return 405, replies.error_body(405, "use POST /v1/messages"), None
            return self._messages(body)
        if path == "/v1/messages/batches":
            if method != b"POST":
                return 405, replies.error_body(405, "use POST /v1/messages/batches"), None
            return self._create_batch(body)
        m = _BATCH_PATH.match(path)
        if m is None:
            return 404, replies.error_body(404, f"Not found: {path}"), None
        batch = st.message_batches.get(m.group(1))
        if batch is None:
            return 404, replies.error_body(404, f"no batch {m.group(1)!r}"), None
        root = self._root(lower)
        if m.group(2) == "/cancel":
            if batch.ended_at is None:
                batch.cancelled_at = batch.ended_at = _now()
                st.cancelled += 1
            return 200, orjson.dumps(batch.to_dict(self.config, root)), None
        if m.group(2) == "/results":
            if not batch.ended(self.config):
                return 400, replies.error_body(400, f"batch {batch.id} is still in progress; no results yet"), None
            return 200, b"\n".join(orjson.dumps(r) for r in batch.final_results()) + b"\n", None
        batch.polls += 1
        return 200, orjson.dumps(batch.to_dict(self.config, root)), None

    def _messages(self, body: bytes) -> tuple[int, bytes, str | None]:
        try:
            req = orjson.loads(body)
            replies.check_body(req)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            return 400, replies.error_body(400, str(exc)), None
        fault = self.state.pick_fault(body, replies.fault_text(req))
        if fault is not None and fault.isdigit():
            return int(fault), replies.error_body(int(fault), f"injected fault: HTTP {fault}"), fault
        if fault == "malformed":
            return 200, b'{"id": "msg_broken", "type": "message", "cont', fault
        try:
            reply = replies.message_reply(req, self.config.model, self.state.prompt_cache, self.config.reasoning)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            return 400, replies.error_body(400, f"bad request: {exc}"), None
        return 200, orjson.dumps(reply), fault

    def _create_batch(self, body: bytes) -> tuple[int, bytes, str | None]:
        st = self.state
        try:
            items = orjson.loads(body)["requests"]
            if not isinstance(items, list) or not 1 <= len(items) <= self.config.max_batch_requests:
                raise ValueError(f"requests: give 1 to {self.config.max_batch_requests} requests")
            ids = [item["custom_id"] for item in items]
            bad = next((i for i in ids if not isinstance(i, str) or not _CUSTOM_ID.match(i)), None)
            if bad is not None:
                raise ValueError(f"custom_id {bad!r} must be 1-64 letters, digits, '_' or '-'")
            if len(set(ids)) != len(ids):
                raise ValueError("custom_id values must be unique within a batch")
        except (KeyError, TypeError, ValueError) as exc:
            return 400, replies.error_body(400, f"invalid batch: {exc}"), None
        fault = st.pick_fault(body, "")  # server-wide faults (429, 500...) hit the submission itself
        if fault is not None and fault.isdigit():
            return int(fault), replies.error_body(int(fault), f"injected fault: HTTP {fault}"), fault
        expire_all = len(st.message_batches) < self.config.batch_expire_first
        results = [self._batch_result(item, k + 1, expire_all) for k, item in enumerate(items)]
        st.created += 1
        st.items += len(items)
        batch_id = f"msgbatch_{len(st.message_batches) + 1:06d}{abs(hash(body)) % 10**8:08d}"
        batch = st.message_batches[batch_id] = _Batch(batch_id, results, st)
        return 200, orjson.dumps(batch.to_dict(self.config, "")), None

    def _batch_result(self, item: dict[str, Any], position: int, expire: bool) -> dict[str, Any]:
        custom_id = item["custom_id"]
        params = item.get("params")
        submission = self.state.submissions[custom_id] = self.state.submissions.get(custom_id, 0) + 1
        if expire or _expires(orjson.dumps(params), submission):
            return {"custom_id": custom_id, "result": {"type": "expired"}}
        try:
            replies.check_body(params)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            return _errored(custom_id, 400, str(exc))
        every = self.config.batch_error_every
        if every and position % every == 0:
            return _errored(custom_id, 500, "injected partial failure")
        fault = self.state.pick_fault(orjson.dumps(params, option=orjson.OPT_SORT_KEYS), replies.fault_text(params))
        if fault is not None and fault.isdigit():
            return _errored(custom_id, int(fault), f"injected fault: HTTP {fault}")
        message = replies.message_reply(params, self.config.model, self.state.prompt_cache, self.config.reasoning)
        return {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}

    @staticmethod
    def _root(lower: bytes) -> str:
        hosts = [line[5:].strip() for line in lower.split(b"\r\n") if line.startswith(b"host:")]
        return f"http://{hosts[0].decode('latin-1')}" if hosts else ""


def _errored(custom_id: str, status: int, message: str) -> dict[str, Any]:
    return {"custom_id": custom_id, "result": {"type": "errored", "error": orjson.loads(replies.error_body(status, message))}}


class FakeAnthropicServer(FakeOpenAIServer):
    """Runs the fake Anthropic server in a subprocess. ``srv.root_url`` (``http://127.0.0.1:PORT``) is
    the URL of a spec: ``anthropic:claude-x@{srv.root_url}``; ``stats()`` includes the batch counters."""

    module = "synthloom.testing.fake_anthropic"

    def __init__(self, config: FakeAnthropicConfig | None = None, *, startup_timeout_s: float = 30.0):
        super().__init__(config or FakeAnthropicConfig(), startup_timeout_s=startup_timeout_s)

    def __enter__(self) -> FakeAnthropicServer:
        self.start()
        return self


def main(argv: list[str] | None = None) -> None:
    """Command-line entry (the fake OpenAI server's flags): serve until interrupted."""
    serve_main(argv, config_class=FakeAnthropicConfig, protocol=AnthropicProtocol, state_class=AnthropicServerState)


if __name__ == "__main__":
    main()
