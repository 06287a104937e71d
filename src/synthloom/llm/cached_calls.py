"""Looking up the model calls a row's lineage names in a response cache file (read-only).

A lineage entry carries the backend identity (``model``) and the first characters of the request
fingerprint (``prompt_hash``); the cache's ``sent_requests`` table (see :mod:`synthloom.llm.cache`) holds each
request sent under that same fingerprint (``lineage``: the request the step made — for a structured-output
call every attempt, schema added or re-asked, shares it) beside the sent request's own ``fingerprint``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from synthloom.llm.cache import PROMPT_HASH_CHARS, lineage_key, unpack


def find_calls(conn: sqlite3.Connection, prompt_hash: str, identity: str | None = None) -> list[dict[str, Any]]:
    """The stored calls made for the step request whose fingerprint starts with ``prompt_hash`` (a lineage
    entry's 16 hex digits: the request itself, or every attempt the structured-output layer sent for it),
    from the backend ``identity`` when given, oldest first: ``{"fingerprint", "identity", "request",
    "response", "elapsed_s", "created"}`` each (``fingerprint``: the request sent; ``response`` None when
    only the request is there). ``conn`` may be read-only; a cache written before requests were kept
    gives []."""
    prefix = prompt_hash.lower()
    if len(prefix) < PROMPT_HASH_CHARS or any(c not in "0123456789abcdef" for c in prefix):
        return []
    try:
        rows = conn.execute(
            "SELECT q.fingerprint, q.identity, q.codec, q.value, q.elapsed_s, q.created, r.codec, r.value "
            "FROM sent_requests q LEFT JOIN responses r ON r.key = q.key WHERE q.lineage = ? ORDER BY q.created, q.rowid",
            (lineage_key(prefix),)).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    calls = []
    seen: set[tuple[str, str]] = set()
    for fp, ident, qcodec, qvalue, elapsed, created, rcodec, rvalue in rows:
        if (identity is not None and ident != identity) or (fp, ident) in seen:
            continue  # the same request stored twice (two processes sharing the cache): shown once
        seen.add((fp, ident))
        response = None if rvalue is None else orjson.loads(unpack(rcodec, rvalue))
        calls.append({"fingerprint": fp, "identity": ident, "request": orjson.loads(unpack(qcodec, qvalue)),
                      "response": response, "elapsed_s": elapsed, "created": created})
    return calls
