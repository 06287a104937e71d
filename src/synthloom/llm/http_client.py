"""A lean async HTTP/1.1 client with a keep-alive connection pool, built for request throughput.

Model servers are called tens of thousands of times per minute from one process, so the per-request
CPU cost matters more than features: this client speaks only what OpenAI-compatible servers need
(Content-Length and chunked bodies, keep-alive, https) directly on ``asyncio.Protocol``. It runs on
whatever event loop is running (uvloop makes it faster).

Failures raise distinct :class:`HTTPError` subclasses: :class:`ConnectFailed`,
:class:`ServerDisconnected` (closed or reset before a complete response head),
:class:`TruncatedBody`, :class:`RequestTimeout` and :class:`ProtocolError`.
"""

from __future__ import annotations

import asyncio
import collections
import ssl as ssl_module
from typing import Any
from urllib.parse import urlsplit

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


class _Connection(asyncio.Protocol):
    """One keep-alive connection; carries at most one request at a time."""

    def __init__(self, pool: "_Pool"):
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


class _Pool:
    """Keep-alive connections to one origin (scheme, host, port), growing up to ``limit``."""

    def __init__(self, scheme: str, host: str, port: int, limit: int, ssl: ssl_module.SSLContext | None,
                 default_headers: bytes, connect_timeout: float):
        self.scheme, self.host, self.port, self.limit = scheme, host, port, limit
        self.origin = f"{scheme}://{host}:{port}"
        self.ssl = ssl
        self.connect_timeout = connect_timeout
        default_port = 443 if scheme == "https" else 80
        host_header = host if port == default_port else f"{host}:{port}"
        if ":" in host and not host.startswith("["):
            host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
        self.head_prefix = b"Host: " + host_header.encode("ascii" if host_header.isascii() else "idna") + b"\r\n"
        self.head_prefix += default_headers
        self.loop: asyncio.AbstractEventLoop | None = None
        self.idle: collections.deque[_Connection] = collections.deque()
        self.waiters: collections.deque[asyncio.Future[_Connection | None]] = collections.deque()
        self.total = 0
        self.closed = False

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # first use, or reused from another event loop: start afresh
            for conn in self.idle:
                conn.pool = _DetachedPool
                try:
                    conn.abort()
                except Exception:  # noqa: BLE001 - the old loop may be closed; its sockets go with it
                    pass
            self.idle.clear()
            self.waiters.clear()
            self.total = 0
            self.loop = loop
        return loop

    async def acquire(self, fresh: bool, timeout: float | None, url: str) -> _Connection:
        self._bind_loop()
        idle = self.idle
        while idle and not fresh:
            conn = idle.pop()
            if not conn.closed:
                conn.in_use = True
                return conn
        while self.total >= self.limit:
            if fresh and idle:
                self.discard(idle.popleft(), abort=True)
                continue
            waiter: asyncio.Future[_Connection | None] = self.loop.create_future()  # type: ignore[union-attr]
            self.waiters.append(waiter)
            try:
                conn = await asyncio.wait_for(waiter, timeout)
            except asyncio.TimeoutError:
                raise RequestTimeout(f"{url}: no free connection within {timeout:g}s "
                                     f"(pool limit {self.limit})", url) from None
            except BaseException:
                if waiter.done() and not waiter.cancelled():  # handed a connection or slot as we were cancelled
                    handed = waiter.result()
                    self.release(handed) if handed is not None else self._wake_one()
                raise
            if conn is not None:
                if not conn.closed:
                    conn.in_use = True
                    return conn
                conn.in_use = False  # it died between hand-over and wake-up
                self.discard(conn)
        self.total += 1
        try:
            return await self._connect(timeout, url)
        except BaseException:
            self.total -= 1
            self._wake_one()
            raise

    async def _connect(self, timeout: float | None, url: str) -> _Connection:
        limit = self.connect_timeout if timeout is None else min(timeout, self.connect_timeout)
        try:
            _, conn = await asyncio.wait_for(self.loop.create_connection(  # type: ignore[union-attr]
                lambda: _Connection(self), self.host, self.port, ssl=self.ssl,
                server_hostname=self.host if self.ssl else None), limit)
        except asyncio.TimeoutError:
            raise ConnectFailed(f"could not connect to {url}: no answer within {limit:g}s; "
                                "is the server running and reachable?", url) from None
        except ssl_module.SSLError as exc:
            raise ConnectFailed(f"could not connect to {url}: TLS error: {exc}", url) from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ConnectFailed(f"could not connect to {url}: is the server running? ({reason})", url) from None
        conn.in_use = True
        return conn

    def release(self, conn: _Connection) -> None:
        conn.in_use = False
        if conn.closed or not conn.keep_alive or conn.pool is not self or self.closed:
            self.discard(conn, abort=True)
            return
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                conn.in_use = True
                waiter.set_result(conn)
                return
        self.idle.append(conn)

    def discard(self, conn: _Connection, abort: bool = False) -> None:
        if conn.discarded:
            return
        conn.discarded = True
        if abort and not conn.closed:
            conn.abort()
        if conn.pool is self:
            self.total -= 1
            try:
                self.idle.remove(conn)
            except ValueError:
                pass
            self._wake_one()

    def _wake_one(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # a slot is free: the waiter opens a connection
                return

    def close(self) -> None:
        self.closed = True
        for conn in list(self.idle):
            self.discard(conn, abort=True)
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectFailed(f"{self.origin}: the HTTP client was closed", self.origin))


class _DetachedPool:
    """Stand-in owner of connections left behind by an event loop that is no longer used."""

    @staticmethod
    def discard(conn: _Connection, abort: bool = False) -> None:
        conn.discarded = True


class HTTPClient:
    """Async HTTP/1.1 client with one keep-alive pool per origin, each up to ``max_connections``.

    ``headers`` are sent with every request (e.g. Authorization); they never appear in reprs or
    errors. ``timeout`` is the default per-request limit in seconds, covering waiting for a
    connection, connecting, sending and receiving. A request that fails on a reused keep-alive
    connection before any byte of the response arrives is retried once on a fresh connection.
    """

    def __init__(self, *, max_connections: int = 256, timeout: float | None = 600.0,
                 connect_timeout: float = 30.0, headers: dict[str, str] | None = None,
                 ssl_context: ssl_module.SSLContext | None = None):
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self.max_connections = max_connections
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._ssl = ssl_context
        self._default_headers = _encode_headers({"User-Agent": "synthloom", "Accept": "application/json",
                                                 **(headers or {})})
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._targets: dict[str, tuple[_Pool, bytes]] = {}

    def __repr__(self) -> str:
        return f"<HTTPClient pools={len(self._pools)} max_connections={self.max_connections}>"

    def _route(self, url: str) -> tuple[_Pool, bytes]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        if parts.username or parts.password:
            raise ValueError("credentials in URLs are not supported; send them as headers")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (parts.scheme, parts.hostname, port)
        pool = self._pools.get(key)
        if pool is None:
            ssl = None
            if parts.scheme == "https":
                ssl = self._ssl or ssl_module.create_default_context()
            pool = self._pools[key] = _Pool(parts.scheme, parts.hostname, port, self.max_connections, ssl,
                                            self._default_headers, self.connect_timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if len(self._targets) > 4096:
            self._targets.clear()
        route = self._targets[url] = (pool, target.encode("ascii"))
        return route

    async def request(self, method: str, url: str, body: bytes = b"", *, headers: dict[str, str] | None = None,
                      timeout: float | None = None) -> HTTPResponse:
        """Send one request and return the complete response (any status; no redirects followed).

        ``timeout`` overrides the client's default for this request."""
        pool, target = self._targets.get(url) or self._route(url)
        if timeout is None:
            timeout = self.timeout
        data = b"".join((method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n", pool.head_prefix,
                         _encode_headers(headers) if headers else b"",
                         b"Content-Length: %d\r\n\r\n" % len(body) if body or method != "GET" else b"\r\n", body))
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        for attempt in (0, 1):
            remaining = None if deadline is None else deadline - loop.time()
            conn = await pool.acquire(attempt > 0, remaining, url)
            reused = conn.requests_done > 0
            try:
                remaining = None if deadline is None else max(deadline - loop.time(), 0.0)
                response = await conn.send(data, url, remaining, timeout, method == "HEAD")
            except ServerDisconnected as exc:
                pool.release(conn)
                if attempt == 0 and reused and not exc.any_byte:
                    continue  # a stale keep-alive connection the server had already closed
                raise
            except BaseException:
                conn.abort()  # timed out or cancelled mid-request: the connection's state is unknown
                pool.release(conn)
                raise
            pool.release(conn)
            return response
        raise AssertionError("unreachable")

    async def post_json(self, url: str, payload: Any, *, headers: dict[str, str] | None = None,
                        timeout: float | None = None) -> HTTPResponse:
        """POST ``payload`` serialised as JSON."""
        return await self.request("POST", url, orjson.dumps(payload),
                                  headers={"Content-Type": "application/json", **(headers or {})}, timeout=timeout)

    def open_connections(self) -> int:
        """Connections currently open or being opened, over all origins."""
        return sum(p.total for p in self._pools.values())

    async def aclose(self) -> None:
        """Close every idle connection and refuse waiting requests."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._targets.clear()


def _encode_headers(headers: dict[str, str]) -> bytes:
    out = []
    for name, value in headers.items():
        if any(c in f"{name}{value}" for c in "\r\n"):
            raise ValueError(f"header {name!r} contains a line break")
        out.append(f"{name}: {value}\r\n".encode("latin-1"))
    return b"".join(out)
