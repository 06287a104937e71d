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

from synthloom.llm.http_protocol import (
    ConnectFailed,
    Connection,
    HTTPError,
    HTTPResponse,
    ProtocolError,
    RequestTimeout,
    ServerDisconnected,
    TruncatedBody,
)

__all__ = ["ConnectFailed", "HTTPClient", "HTTPError", "HTTPResponse", "ProtocolError", "RequestTimeout",
           "ServerDisconnected", "TruncatedBody"]


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
        self.idle: collections.deque[Connection] = collections.deque()
        self.waiters: collections.deque[asyncio.Future[Connection | None]] = collections.deque()
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

    async def acquire(self, fresh: bool, timeout: float | None, url: str) -> Connection:
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
            waiter: asyncio.Future[Connection | None] = self.loop.create_future()  # type: ignore[union-attr]
            self.waiters.append(waiter)
            try:
                conn = await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
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

    async def _connect(self, timeout: float | None, url: str) -> Connection:
        limit = self.connect_timeout if timeout is None else min(timeout, self.connect_timeout)
        try:
            _, conn = await asyncio.wait_for(self.loop.create_connection(  # type: ignore[union-attr]
                lambda: Connection(self), self.host, self.port, ssl=self.ssl,
                server_hostname=self.host if self.ssl else None), limit)
        except TimeoutError:
            raise ConnectFailed(f"could not connect to {url}: no answer within {limit:g}s; "
                                "is the server running and reachable?", url) from None
        except ssl_module.SSLError as exc:
            raise ConnectFailed(f"could not connect to {url}: TLS error: {exc}", url) from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ConnectFailed(f"could not connect to {url}: is the server running? ({reason})", url) from None
        conn.in_use = True
        return conn

    def release(self, conn: Connection) -> None:
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

    def discard(self, conn: Connection, abort: bool = False) -> None:
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
    def discard(conn: Connection, abort: bool = False) -> None:
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
