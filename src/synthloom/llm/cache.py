"""Content-addressed response cache: the outermost layer around every model backend.

The key is the xxh3-128 hash of (backend identity, full request fingerprint), so a rerun replays
exactly the answers it already paid for and asks the model only for what is missing.

Durability: inserts are buffered in memory and committed by a writer thread in small batches
(every ``batch_interval_s`` = 50 ms, or as soon as ``batch_rows`` = 1024 rows are waiting), in a
SQLite database in WAL mode with ``synchronous=NORMAL``. A ``kill -9`` of the process loses at
most the responses of the last batch interval (they are re-asked on the rerun); committed
transactions survive a process kill. A power loss may also roll back the last few commits that
were not yet checkpointed. ``flush()`` / ``aclose()`` make everything buffered durable.

Several processes may share one cache file: WAL lets readers read while one process writes, and
writers queue on SQLite's lock (``busy_timeout``).

Beside each response the ``sent_requests`` table keeps the request that asked for it (its fingerprint, the
backend identity, when it was answered and how long that took), filed under the request the step made
(:data:`request_origin` when a layer above sent a variant of it), so a row's lineage entry (``model`` =
the identity, ``prompt_hash`` = the fingerprint's first 16 hex digits) leads to the exact requests and
raw responses (``synthloom view RUN --web``; see :mod:`synthloom.llm.cached_calls`).
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import orjson
import xxhash

from synthloom.llm.types import ModelBackend, Request, Response

_SCHEMA_VERSION = 1
_RAW, _ZLIB = 0, 1
# One row per request sent (appended in rowid order: no key index to maintain), found by ``lineage``: the
# first 64 bits of the fingerprint a lineage entry's prompt_hash holds (the step's request: ``origin`` when
# a layer above the cache sent a variant of it, else the request's own), as a signed integer (see lineage_key).
_REQUESTS_TABLE = ("CREATE TABLE IF NOT EXISTS sent_requests (key BLOB NOT NULL, lineage INTEGER NOT NULL, fingerprint TEXT NOT NULL, "
                   "identity TEXT NOT NULL, codec INTEGER NOT NULL, value BLOB NOT NULL, elapsed_s REAL, created REAL NOT NULL)")
_REQUESTS_INDEXES = ("CREATE INDEX IF NOT EXISTS sent_requests_by_lineage ON sent_requests (lineage)",)
#: a request waiting to be written (request, identity, elapsed_s, created, origin), encoded by the writer thread
_Asked = tuple[Request, str, float | None, float, str | None]
#: a request row as written: lineage, fingerprint, identity, codec, value, elapsed_s, created
_RequestRow = tuple[int, str, str, int, bytes, float | None, float]
#: hex digits of a fingerprint in a lineage entry's ``prompt_hash`` (pipeline/model_step.py)
PROMPT_HASH_CHARS = 16


def lineage_key(fingerprint: str) -> int:
    """The ``requests.lineage`` value of a request fingerprint (or of a lineage entry's prompt_hash)."""
    return int(fingerprint[:PROMPT_HASH_CHARS], 16) - (1 << 63)
#: the fingerprint of the request a step made, while a layer above the cache (structured output) sends
#: variants of it (the schema added, re-asks): the cache records it beside each variant
request_origin: contextvars.ContextVar[str | None] = contextvars.ContextVar("synthloom_request_origin", default=None)


class ResponseCache:
    """A SQLite file mapping (backend identity, request) to the model's response.

    Thread-safe: ``get``/``put`` may be called from any thread (each thread reads through its own
    connection); one writer thread owns the write connection.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        batch_rows: int = 1024,
        batch_interval_s: float = 0.05,
        compress_over: int = 4096,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.batch_rows = batch_rows
        self.batch_interval_s = batch_interval_s
        self.compress_over = compress_over
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._cond = threading.Condition()
        self._pending: dict[bytes, tuple[int, bytes]] = {}  # not yet committed; served to readers
        self._queue: list[tuple[bytes, int, bytes, _Asked | None]] = []
        self._first_queued_at = 0.0
        self._enqueued = 0
        self._committed = 0
        self.commits = 0
        self._flush_wanted = False
        self._closing = False
        self._closed = False
        self._writer_error: BaseException | None = None
        self._write_conn = self._connect()
        self._write_conn.execute(
            "CREATE TABLE IF NOT EXISTS responses (key BLOB PRIMARY KEY, codec INTEGER NOT NULL, value BLOB NOT NULL)"
        )
        self._write_conn.execute(_REQUESTS_TABLE)
        for index in _REQUESTS_INDEXES:
            self._write_conn.execute(index)
        self._write_conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        self._write_conn.commit()
        # A cache that held nothing when opened can only hold what this process puts: remember the
        # keys put in a small Bloom filter and answer lookups it rules out without asking SQLite
        # (a first run's lookups are all misses). "Maybe" falls back to SQL, so answers stay exact;
        # only entries another process adds to the same file meanwhile are not seen (asked again).
        empty = self._write_conn.execute("SELECT 1 FROM responses LIMIT 1").fetchone() is None
        self._bloom: bytearray | None = bytearray(_BLOOM_BITS // 8) if empty else None
        # A small cache file (a rerun's own answers) is read whole on the first lookup: one query instead of one
        # per request. Keys missing from it (put since, or by another process) still go to SQL: answers stay exact.
        self._preloaded: dict[bytes, tuple[int, bytes]] | None = None
        self._preload_due = not empty
        self._writer = threading.Thread(target=self._write_loop, name=f"synthloom-cache-writer:{self.path.name}", daemon=True)
        self._writer.start()

    # -- keys and encoding ------------------------------------------------------------------

    @staticmethod
    def key(identity: str, request: Request) -> bytes:
        """The cache key of ``request`` sent to the backend named ``identity``."""
        return xxhash.xxh3_128_digest(f"{identity}\x00{request.fingerprint()}".encode())

    def _encode(self, response: Response) -> tuple[int, bytes]:
        return self._pack(orjson.dumps(response.to_dict()))

    def _pack(self, data: bytes) -> tuple[int, bytes]:
        if len(data) > self.compress_over:
            return _ZLIB, zlib.compress(data, 1)
        return _RAW, data

    @staticmethod
    def _decode(codec: int, value: bytes) -> Response:
        response = Response.from_dict(orjson.loads(unpack(codec, value)))
        response.cached = True
        return response

    # -- reads ------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level="DEFERRED")
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 10000")
            # memory-mapped pages and a page cache halve the cost of a lookup (22 -> 12 us); 64 MiB
            # of map keeps a large cache file from filling the run's memory
            conn.execute("PRAGMA mmap_size = 67108864")
            conn.execute("PRAGMA cache_size = -65536")
            self._local.conn = conn
            with self._cond:
                self._readers.append(conn)
        return conn

    def get(self, key: bytes) -> Response | None:
        """The cached response for ``key`` (with ``cached=True``), or None."""
        pending = self._pending.get(key)
        if pending is not None:
            return self._decode(*pending)
        if self._closed:
            raise RuntimeError(f"response cache {self.path} is closed")
        if self._bloom is not None and not _bloom_has(self._bloom, key):
            return None
        if self._preload_due:
            self._preload()
        if self._preloaded is not None:
            entry = self._preloaded.get(key)
            if entry is not None:
                return self._decode(*entry)
        row = self._reader().execute("SELECT codec, value FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else self._decode(row[0], row[1])

    def _preload(self) -> None:
        with self._cond:
            if not self._preload_due:
                return
            self._preload_due = False
            try:
                size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
            except OSError:
                return
            if size <= PRELOAD_MAX_BYTES:
                rows = self._reader().execute("SELECT key, codec, value FROM responses").fetchall()
                self._preloaded = {key: (codec, value) for key, codec, value in rows}

    def __contains__(self, key: bytes) -> bool:
        if key in self._pending:
            return True
        return self._reader().execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        self.flush()
        return self._reader().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    # -- writes -----------------------------------------------------------------------------

    def put(self, key: bytes, response: Response, *, request: Request | None = None, identity: str = "",
            elapsed_s: float | None = None) -> None:
        """Store ``response`` under ``key``; it is readable at once and durable within ~50 ms. With
        ``request`` (sent to the backend ``identity``, answered in ``elapsed_s``), the request is kept
        beside it for looking the call up later."""
        entry = self._encode(response)
        asked = None if request is None else (request, identity, elapsed_s, time.time(), request_origin.get())
        with self._cond:
            if self._writer_error is not None:
                raise RuntimeError(f"response cache {self.path} cannot write: {self._writer_error}") from self._writer_error
            if self._closing:
                raise RuntimeError(f"response cache {self.path} is closed")
            self._pending[key] = entry
            if self._bloom is not None:
                _bloom_add(self._bloom, key)
            self._queue.append((key, entry[0], entry[1], asked))
            self._enqueued += 1
            n = len(self._queue)
            if n == 1:
                self._first_queued_at = time.monotonic()
                self._cond.notify_all()
            elif n >= self.batch_rows:
                self._cond.notify_all()

    def _write_loop(self) -> None:
        conn = self._write_conn
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue and self._closing:
                    return
                deadline = self._first_queued_at + self.batch_interval_s
                while len(self._queue) < self.batch_rows and not (self._closing or self._flush_wanted):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch, self._queue = self._queue, []
                self._flush_wanted = False
            try:
                _insert(conn, [(key, codec, value, None if asked is None else self._request_row(*asked))
                               for key, codec, value, asked in batch])
                conn.commit()
            except BaseException as exc:  # noqa: BLE001 - reported to the next put/flush
                with self._cond:
                    self._writer_error = exc
                    self._committed += len(batch)
                    self._cond.notify_all()
                return
            with self._cond:
                for key, _codec, value, _asked in batch:
                    entry = self._pending.get(key)
                    if entry is not None and entry[1] is value:
                        del self._pending[key]
                self._committed += len(batch)
                self.commits += 1
                self._cond.notify_all()

    def _request_row(self, request: Request, identity: str, elapsed_s: float | None, created: float,
                     origin: str | None) -> _RequestRow:
        codec, value = self._pack(orjson.dumps(request.to_dict()))
        fingerprint = request.fingerprint()
        return lineage_key(origin or fingerprint), fingerprint, identity, codec, value, elapsed_s, created

    def flush(self) -> None:
        """Block until every response put so far is committed to the database file."""
        with self._cond:
            target = self._enqueued
            if self._committed < target:
                self._flush_wanted = True
                self._cond.notify_all()
            while self._committed < target and self._writer.is_alive():
                self._cond.wait(1.0)
            if self._writer_error is not None:
                raise RuntimeError(f"response cache {self.path} cannot write: {self._writer_error}") from self._writer_error

    async def aflush(self) -> None:
        """``flush()`` without blocking the event loop."""
        if self._committed < self._enqueued:
            await asyncio.to_thread(self.flush)

    def close(self) -> None:
        """Commit everything buffered, stop the writer thread and close the database."""
        if self._closed:
            return
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join()
        self._write_conn.close()
        with self._cond:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
        self._closed = True
        if self._writer_error is not None:
            raise RuntimeError(f"response cache {self.path} lost writes: {self._writer_error}") from self._writer_error

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {"path": str(self.path), "buffered": len(self._pending), "written": self._committed, "commits": self.commits}

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_ROWS_PER_STATEMENT = 256
PRELOAD_MAX_BYTES = 64 << 20  # cache files up to this size are read whole on the first lookup
_BLOOM_BITS = 1 << 24  # 2 MiB; ~0.4% false "maybe" at a million keys, then degrades to plain SQL lookups


def _bloom_slots(key: bytes) -> tuple[int, int, int]:
    # keys are xxh3-128 digests: any 4 bytes of them are uniformly distributed
    mask = _BLOOM_BITS - 1
    return (int.from_bytes(key[0:4], "little") & mask, int.from_bytes(key[4:8], "little") & mask,
            int.from_bytes(key[8:12], "little") & mask)


def _bloom_add(bits: bytearray, key: bytes) -> None:
    for h in _bloom_slots(key):
        bits[h >> 3] |= 1 << (h & 7)


def _bloom_has(bits: bytearray, key: bytes) -> bool:
    return all(bits[h >> 3] & (1 << (h & 7)) for h in _bloom_slots(key))


def _insert(conn: sqlite3.Connection, rows: list[tuple[bytes, int, bytes, _RequestRow | None]]) -> None:
    # One multi-row INSERT per 256 rows: sqlite3 releases the GIL once per statement step, so this
    # keeps the writer thread from taking the GIL back from the event loop once per row.
    for i in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[i : i + _ROWS_PER_STATEMENT]
        sql = "INSERT OR REPLACE INTO responses (key, codec, value) VALUES " + ",".join(["(?,?,?)"] * len(chunk))
        conn.execute(sql, [v for row in chunk for v in row[:3]])
        asked = [(row[0], *row[3]) for row in chunk if row[3] is not None]
        if asked:
            sql = ("INSERT INTO sent_requests (key, lineage, fingerprint, identity, codec, value, elapsed_s, created) "
                   "VALUES " + ",".join(["(?,?,?,?,?,?,?,?)"] * len(asked)))
            conn.execute(sql, [v for row in asked for v in row])


def unpack(codec: int, value: bytes) -> bytes:
    """The JSON bytes of a stored response or request (``codec`` says whether they are compressed)."""
    if codec == _ZLIB:
        return zlib.decompress(value)
    if codec != _RAW:
        raise ValueError(f"cache entry with unknown codec {codec}; was it written by a newer synthloom?")
    return value


class CachedBackend:
    """Layer that answers a request from a :class:`ResponseCache` when it can.

    A hit returns the stored response with ``cached=True`` and never calls the inner backend.
    Identical requests in flight at the same time are sent once: later callers wait for the first
    one's answer (marked ``cached=True`` for them, since it cost nothing more) or its error, and a
    failed request is never stored. ``enabled=False`` (``--no-cache``) bypasses reads and writes.
    """

    def __init__(self, inner: ModelBackend, cache: ResponseCache, enabled: bool = True) -> None:
        self.inner = inner
        self.cache = cache
        self.enabled = enabled
        self.identity = inner.identity
        self._in_flight: dict[bytes, asyncio.Future[Response]] = {}
        self._remote = getattr(cache, "remote", False)  # a Ray run's RemoteCache: lookups are awaited

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    async def complete(self, request: Request) -> Response:
        if not self.enabled:
            return await self.inner.complete(request)
        key = self.cache.key(self.identity, request)
        while True:
            hit = await self.cache.aget(key) if self._remote else self.cache.get(key)
            if hit is not None:
                return hit
            leader = self._in_flight.get(key)
            if leader is None:
                break
            try:
                shared = await asyncio.shield(leader)
            except _LeaderCancelled:
                continue  # the first caller gave up; try again (maybe as the new first caller)
            copy = Response.from_dict(shared.to_dict())
            copy.cached = True
            return copy
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        started = time.monotonic()
        try:
            response = await self.inner.complete(request)
        except asyncio.CancelledError:
            future.set_exception(_LeaderCancelled())
            future.exception()  # mark retrieved: no waiter is not an error
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        else:
            self.cache.put(key, response, request=request, identity=self.identity, elapsed_s=time.monotonic() - started)
            future.set_result(response)
            return response
        finally:
            del self._in_flight[key]

    async def aclose(self) -> None:
        try:
            await self.cache.aflush()
        finally:
            await self.inner.aclose()


class _LeaderCancelled(Exception):
    """The caller that was sending a shared request was cancelled before an answer came."""
