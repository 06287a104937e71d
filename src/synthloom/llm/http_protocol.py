"""The wire side of ``http_client``: the HTTP/1.1 response parser on ``asyncio.Protocol``, one
keep-alive connection per instance, and the errors and response type the client exposes."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

_MAX_HEAD = 65536
_HEAD, _LENGTH, _CHUNKED, _UNTIL_EOF = range(4)


class HTTPError(Exception):
    """Base of the transport-level failures; ``url`` names the request's URL."""

    def __init__(self, message: str, url: str):
        super().__init__(message)
        self.url = url


class ConnectFailed(HTTPError):
    """No connection could be opened (refused, unresolvable host, TLS handshake failure)."""


class ServerDisconnected(HTTPError):
    """The server closed or reset the connection before sending a complete response head."""

    def __init__(self, message: str, url: str, *, any_byte: bool):
        super().__init__(message, url)
        self.any_byte = any_byte


class TruncatedBody(HTTPError):
    """The connection ended before the body that the response head announced was complete."""


class RequestTimeout(HTTPError):
    """The request did not complete within its timeout."""


class ProtocolError(HTTPError):
    """The server's reply is not valid HTTP/1.1."""


class HTTPResponse:
    """A complete response: ``status``, lower-cased ``headers`` and the raw ``body`` bytes."""

    __slots__ = ("status", "headers", "body", "url")

    def __init__(self, status: int, headers: dict[str, str], body: bytes, url: str):
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url

    def json(self) -> Any:
        return orjson.loads(self.body)

    def __repr__(self) -> str:
        return f"<HTTPResponse {self.status} {self.url} {len(self.body)} bytes>"


class Connection(asyncio.Protocol):
    """One keep-alive connection; carries at most one request at a time."""

    def __init__(self, pool: Any):
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.in_use = False
        self.discarded = False
        self.requests_done = 0
        self.waiter: asyncio.Future[HTTPResponse] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.url = ""
        self.head_only = False
        self._reset_response()

    def _reset_response(self) -> None:
        self.mode = _HEAD
        self.buf = b""
        self.any_byte = False
        self.status = 0
        self.headers: dict[str, str] = {}
        self.parts: list[bytes] = []
        self.remaining = 0
        self.keep_alive = True
        self.chunk_size = -1  # -1: a chunk-size line is due next
        self.in_trailer = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes, url: str, remaining: float | None, timeout: float | None,
             head_only: bool) -> asyncio.Future[HTTPResponse]:
        assert self.transport is not None
        self._reset_response()
        self.head_only = head_only
        self.url = url
        loop = self.pool.loop
        self.waiter = waiter = loop.create_future()
        if self.closed or self.transport.is_closing():
            self._fail(ServerDisconnected(f"{url}: the server closed the connection before the request was sent",
                                          url, any_byte=False))
            return waiter
        if remaining is not None:
            self.timer = loop.call_later(remaining, self._on_timeout, timeout)
        self.transport.write(data)
        return waiter

    def _on_timeout(self, timeout: float) -> None:
        self._fail(RequestTimeout(f"{self.url}: no complete response within {timeout:g}s", self.url))
        self.abort()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: HTTPError) -> None:
        waiter, self.waiter = self.waiter, None
        self.keep_alive = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _complete(self, body: bytes) -> None:
        waiter, self.waiter = self.waiter, None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.requests_done += 1
        if waiter is not None and not waiter.done():
            waiter.set_result(HTTPResponse(self.status, self.headers, body, self.url))

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes while idle: the connection's state is unknown, drop it
            self.abort()
            return
        self.any_byte = True
        if self.mode == _HEAD:
            buf = self.buf + data if self.buf else data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._protocol_error("response head larger than 64 KiB")
                self.buf = buf
                return
            self.buf = b""
            try:
                self._parse_head(buf[:end])
            except (ValueError, IndexError):
                self._protocol_error(f"malformed response head {buf[:200]!r}")
                return
            if 100 <= self.status < 200:  # "100 Continue" and friends precede the real response
                self.mode, self.headers = _HEAD, {}
                if len(buf) > end + 4:
                    self.data_received(buf[end + 4:])
                return
            data = buf[end + 4:]
            if self.mode == _LENGTH and self.remaining == len(data):  # the common case: all in one read
                self._complete(data)
                return
        if self.mode == _LENGTH:
            self.parts.append(data)
            self.remaining -= len(data)
            if self.remaining <= 0:
                if self.remaining < 0:
                    self.keep_alive = False
                    data = b"".join(self.parts)
                    self._complete(data[: len(data) + self.remaining])
                else:
                    self._complete(b"".join(self.parts))
        elif self.mode == _CHUNKED:
            self._feed_chunked(data)
        elif self.mode == _UNTIL_EOF:
            self.parts.append(data)

    def _parse_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        version, status, *_ = lines[0].split(b" ", 2)
        if not version.startswith(b"HTTP/1."):
            raise ValueError(version)
        self.status = int(status)
        headers = self.headers
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            key = name.strip().lower().decode("latin-1")
            text = value.strip().decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        connection = headers.get("connection", "").lower()
        self.keep_alive = "close" not in connection and (version == b"HTTP/1.1" or "keep-alive" in connection)
        if self.head_only or self.status in (204, 304) or 100 <= self.status < 200:
            self.mode, self.remaining = _LENGTH, 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self.mode = _CHUNKED
        elif "content-length" in headers:
            self.mode, self.remaining = _LENGTH, int(headers["content-length"])
            if self.remaining < 0:
                raise ValueError("negative Content-Length")
        else:
            self.mode, self.keep_alive = _UNTIL_EOF, False

    def _feed_chunked(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        pos = 0
        while True:
            if self.in_trailer:
                if buf.startswith(b"\r\n", pos):
                    pos += 2
                else:
                    end = buf.find(b"\r\n\r\n", pos)
                    if end < 0:
                        break
                    pos = end + 4
                self.buf = buf[pos:]
                if self.buf:
                    self.keep_alive = False
                self._complete(b"".join(self.parts))
                return
            if self.chunk_size < 0:
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    break
                try:
                    self.chunk_size = int(buf[pos:end].split(b";", 1)[0], 16)
                except ValueError:
                    self._protocol_error(f"bad chunk size line {buf[pos:end][:40]!r}")
                    return
                pos = end + 2
                if self.chunk_size == 0:
                    self.in_trailer = True
                continue
            if len(buf) - pos < self.chunk_size + 2:
                break
            self.parts.append(buf[pos:pos + self.chunk_size])
            pos += self.chunk_size + 2
            self.chunk_size = -1
        self.buf = buf[pos:]

    def _protocol_error(self, message: str) -> None:
        self._fail(ProtocolError(f"{self.url}: {message}", self.url))
        self.abort()

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost settles the pending request

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None:
            if self.mode == _UNTIL_EOF:
                self._complete(b"".join(self.parts))
            elif self.mode == _HEAD:
                how = "reset" if isinstance(exc, ConnectionResetError) else "closed"
                where = "in the middle of the response head" if self.any_byte else "before responding"
                self._fail(ServerDisconnected(f"{self.url}: server {how} the connection {where}", self.url,
                                              any_byte=self.any_byte))
            else:
                self._fail(TruncatedBody(f"{self.url}: connection ended before the response body was complete "
                                         f"(status {self.status})", self.url))
        if not self.in_use:
            self.pool.discard(self)
