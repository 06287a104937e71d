"""The HTTP/1.1 protocol of the fake OpenAI-compatible server: parsing, replies, faults, counters.

Written on bare ``asyncio.Protocol`` (no framework) so one core answers well over 15,000 small
requests per second; see ``fake_server`` for the configuration, the subprocess runner and the CLI.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

import orjson

from synthloom.testing import fake_replies
from synthloom.testing.fake_batches import FakeBatches

if TYPE_CHECKING:
    from synthloom.testing.fake_server import FakeServerConfig

_DIRECTIVE = re.compile(r"\[\[fault:([a-z0-9]+)(?::(\d+))?\]\]")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 408: "Request Timeout", 429: "Too Many Requests",
            500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


class ServerState:
    """Counters and attempt bookkeeping shared by all connections of one server process."""

    def __init__(self, config: FakeServerConfig):
        self.config = config
        self.required = [(k.lower().encode(), v.encode()) for k, v in config.required_headers.items()]
        self.auth = f"bearer {config.api_key}".lower().encode() if config.api_key else None  # headers are compared lower-cased
        self.last_head = b""
        self.last_body = b""
        self.connections_open = 0
        self.in_flight = 0
        self.batches = FakeBatches(config)
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_status: dict[str, int] = {}
        self.by_path: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.attempts: dict[int, int] = {}
        self.connections_total = 0
        self.max_connections = self.connections_open
        self.max_in_flight = self.in_flight
        self.batches.reset_counts()

    def stats(self) -> dict[str, Any]:
        return {"requests": self.requests, "by_status": self.by_status, "by_path": self.by_path,
                "faults": self.faults, "connections_open": self.connections_open,
                "connections_total": self.connections_total, "max_connections": self.max_connections,
                "in_flight": self.in_flight, "max_in_flight": self.max_in_flight, "batches": self.batches.stats()}

    def pick_fault(self, body: bytes, text: str) -> str | None:
        cfg = self.config
        if "[[fault:" in text and (m := _DIRECTIVE.search(text)):
            if m.group(2) is None or self._attempt(body) <= int(m.group(2)):
                return m.group(1)
            return None
        if cfg.fault is None:
            return None
        if cfg.fault_every:
            return cfg.fault if self.requests % cfg.fault_every == 0 else None
        if cfg.fault_first:
            return cfg.fault if self._attempt(body) <= cfg.fault_first else None
        return cfg.fault

    def _attempt(self, body: bytes) -> int:
        key = hash(body)
        n = self.attempts.get(key, 0) + 1
        self.attempts[key] = n
        return n


def _error(status: int, message: str, kind: str = "invalid_request_error", **more: Any) -> tuple[int, bytes]:
    return status, orjson.dumps({"error": {"message": message, "type": kind, "code": status, **more}})


class FakeServerProtocol(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection; requests on it are answered strictly in order."""

    def __init__(self, state: ServerState):
        self.state = state
        self.config = state.config
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.busy = False  # a delayed reply is pending; later pipelined requests wait
        self.continued = False  # "100 Continue" already sent for the request being read
        self.idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        st = self.state
        st.connections_open += 1
        st.connections_total += 1
        st.max_connections = max(st.max_connections, st.connections_open)
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections_open -= 1
        if self.busy:
            self.state.in_flight -= 1
            self.busy = False
        if self.idle_timer:
            self.idle_timer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf = self.buf + data if self.buf else data
        if self.idle_timer:
            self.idle_timer.cancel()
            self.idle_timer = None
        if not self.busy:
            self._process()

    def _arm_idle_timer(self) -> None:
        if self.config.keepalive_timeout_s is not None and self.transport:
            loop = asyncio.get_running_loop()
            self.idle_timer = loop.call_later(self.config.keepalive_timeout_s, self.transport.close)

    def _process(self) -> None:
        while self.transport is not None and not self.busy:
            buf = self.buf
            end_head = buf.find(b"\r\n\r\n")
            if end_head < 0:
                if len(buf) > 65536:
                    self._write(*_error(400, "request head too large"), keep_alive=False)
                return
            head = buf[:end_head]
            lower = head.lower()
            length = 0
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lower.find(b"\r\n", i + 2)
                try:
                    length = int(lower[i + 17:j if j >= 0 else len(lower)])
                except ValueError:
                    self._write(*_error(400, "bad Content-Length"), keep_alive=False)
                    return
            elif b"\r\ntransfer-encoding:" in lower:
                self._write(*_error(501, "chunked request bodies are not supported"), keep_alive=False)
                return
            end = end_head + 4 + length
            if len(buf) < end:
                if b"\r\nexpect: 100-continue" in lower and not self.continued:
                    self.continued = True
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            self.continued = False
            body = buf[end_head + 4:end]
            self.buf = buf[end:]
            line = head[:head.find(b"\r\n")] if b"\r\n" in head else head
            method, _, rest = line.partition(b" ")
            path = rest.rpartition(b" ")[0] or rest
            keep_alive = b"\r\nconnection: close" not in lower and not line.endswith(b"HTTP/1.0")
            self._handle(method, path.decode("latin-1"), head, lower, body, keep_alive)

    def _handle(self, method: bytes, path: str, head: bytes, lower: bytes, body: bytes, keep_alive: bool) -> None:
        st = self.state
        if path.startswith("/_"):
            return self._write(*self._control(method, path), keep_alive=keep_alive, count=False)
        st.requests += 1
        st.by_path[path] = st.by_path.get(path, 0) + 1
        st.last_head, st.last_body = head, body
        st.in_flight += 1
        st.max_in_flight = max(st.max_in_flight, st.in_flight)
        self.busy = True
        status, payload, fault = self._api(method, path, lower, body)
        if fault == "stall":
            st.faults["stall"] = st.faults.get("stall", 0) + 1
            asyncio.get_running_loop().call_later(self.config.stall_s, self._close_quietly)
        elif self.config.latency_s > 0:
            asyncio.get_running_loop().call_later(
                self.config.latency_s, self._finish, status, payload, fault, keep_alive)
        else:
            self._finish(status, payload, fault, keep_alive)

    def _finish(self, status: int, payload: bytes, fault: str | None, keep_alive: bool) -> None:
        if self.transport is None:
            return
        st = self.state
        st.in_flight -= 1
        self.busy = False
        if fault is not None:
            st.faults[fault] = st.faults.get(fault, 0) + 1
        if fault == "reset":
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
            return
        if fault == "truncate":
            st.by_status["200"] = st.by_status.get("200", 0) + 1
            self.transport.write(self._head(200, len(payload), b"", False) + payload[: len(payload) // 2])
            self.transport.close()
            return
        extra = b""
        if status == 429:
            extra = b"Retry-After: " + self._retry_after().encode() + b"\r\n"
        self._write(status, payload, keep_alive=keep_alive, extra=extra)
        if self.buf and self.transport is not None:
            self._process()

    def _write(self, status: int, payload: bytes, keep_alive: bool = True, extra: bytes = b"",
               count: bool = True) -> None:
        assert self.transport is not None
        if count:
            key = str(status)
            self.state.by_status[key] = self.state.by_status.get(key, 0) + 1
        if self.config.chunked:
            half = len(payload) // 2
            parts = [p for p in (payload[:half], payload[half:]) if p]
            data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
            self.transport.write(self._head(status, None, extra, keep_alive) + data)
        else:
            self.transport.write(self._head(status, len(payload), extra, keep_alive) + payload)
        if not keep_alive:
            self.transport.close()
        else:
            self._arm_idle_timer()

    @staticmethod
    def _head(status: int, length: int | None, extra: bytes, keep_alive: bool) -> bytes:
        framing = b"Transfer-Encoding: chunked\r\n" if length is None else b"Content-Length: %d\r\n" % length
        return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%s%s%s\r\n" % (
            status, _REASONS.get(status, "Error").encode(), framing, extra,
            b"" if keep_alive else b"Connection: close\r\n"))

    def _retry_after(self) -> str:
        seconds = self.config.retry_after_s
        if self.config.retry_after_http_date:
            return email.utils.formatdate(time.time() + seconds, usegmt=True)
        return f"{seconds:g}"

    def _close_quietly(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _control(self, method: bytes, path: str) -> tuple[int, bytes]:
        st = self.state
        if path == "/_stats" and method == b"GET":
            return 200, orjson.dumps(st.stats())
        if path == "/_stats/reset" and method == b"POST":
            st.reset()
            return 200, orjson.dumps(st.stats())
        if path == "/_batches/release" and method == b"POST":
            return 200, orjson.dumps(st.batches.release())
        if path == "/_last_request" and method == b"GET":
            lines = st.last_head.decode("latin-1").split("\r\n")
            headers = dict(ln.split(":", 1) for ln in lines[1:] if ":" in ln)
            return 200, orjson.dumps({"request_line": lines[0], "body": st.last_body.decode("utf-8", "replace"),
                                      "headers": {k.strip().lower(): v.strip() for k, v in headers.items()}})
        return _error(404, f"no control endpoint {method.decode()} {path}")

    def _api(self, method: bytes, path: str, lower: bytes, body: bytes) -> tuple[int, bytes, str | None]:
        if self.state.auth is not None and b"\r\nauthorization: " + self.state.auth not in lower + b"\r\n":
            return (*_error(401, "Incorrect API key provided", code="invalid_api_key"), None)
        for name, value in self.state.required:
            if b"\r\n" + name + b": " + value.lower() not in lower:
                return (*_error(403, f"missing or wrong header {name.decode()!r}"), None)
        if path == "/v1/models":
            if method != b"GET":
                return (*_error(405, "use GET /v1/models"), None)
            return 200, orjson.dumps({"object": "list", "data": [
                {"id": self.config.model, "object": "model", "created": 0, "owned_by": "synthloom-fake"}]}), None
        if path in ("/pooling", "/classify"):
            return self._pooling(method, path, body)
        if path.startswith(("/v1/files", "/v1/batches")):
            return self.state.batches.handle(method, path, lower, body, self._api)
        if path not in ("/v1/chat/completions", "/v1/completions"):
            return (*_error(404, f"unknown endpoint {path}"), None)
        if method != b"POST":
            return (*_error(405, f"use POST {path}"), None)
        try:
            req = orjson.loads(body)
            if not isinstance(req, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            return (*_error(400, f"invalid JSON body: {exc}"), None)
        chat = path == "/v1/chat/completions"
        try:
            text = fake_replies.source_text(req, chat)
        except (KeyError, TypeError, ValueError) as exc:
            return (*_error(400, f"bad request: {exc}"), None)
        fault = self.state.pick_fault(body, text)
        if fault is not None:
            if fault.isdigit():
                code = int(fault)
                return (*_error(code, f"injected fault: HTTP {code}", "server_error" if code >= 500 else
                                "invalid_request_error"), fault)
            if fault == "malformed":
                return 200, b'{"id": "broken", "choices": [{"index": 0, "mess', fault
        rf = req.get("response_format") or {}
        if rf.get("type") == "json_schema" and not self.config.json_schema_supported:
            return (*_error(400, "response_format of type json_schema is not supported by this server",
                            param="response_format"), None)
        served = self.config.prompt_logprobs.split(",")
        if not chat and req.get("echo") and "echo" not in served:
            return (*_error(400, "echo is not supported with this model", param="echo"), None)
        if req.get("prompt_logprobs") is not None and ("vllm" not in served or chat):
            req.pop("prompt_logprobs")  # an unknown field, as servers other than vLLM ignore it
        try:
            reply = fake_replies.build_reply(req, chat, text, self.config.model, self.config.reasoning)
            if not chat and (req.get("echo") or req.get("prompt_logprobs") is not None):
                reply = fake_replies.add_prompt_logprobs(reply, req, text)
        except (KeyError, TypeError, ValueError) as exc:
            return (*_error(400, f"bad request: {exc}"), None)
        return 200, orjson.dumps(reply), fault

    def _pooling(self, method: bytes, path: str, body: bytes) -> tuple[int, bytes, str | None]:
        """vLLM's reward and classification endpoints (see ``fake_replies.pooling_reply``); fault
        directives in any message apply."""
        if method != b"POST":
            return (*_error(405, f"use POST {path}"), None)
        try:
            req = orjson.loads(body)
            if not isinstance(req, dict):
                raise ValueError("the body must be a JSON object")
            text, _ = fake_replies.pooling_source(req)
        except (KeyError, TypeError, ValueError) as exc:
            return (*_error(400, f"bad request: {exc}"), None)
        fault = self.state.pick_fault(body, text)
        if fault is not None and fault.isdigit():
            code = int(fault)
            return (*_error(code, f"injected fault: HTTP {code}", "server_error" if code >= 500 else
                            "invalid_request_error"), fault)
        if fault == "malformed":
            return 200, b'{"data": [{"index": 0, "da', fault
        return 200, orjson.dumps(fake_replies.pooling_reply(req, path.lstrip("/"), self.config.model)), fault
