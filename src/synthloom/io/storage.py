"""Recognising "the disk cannot take more" (full, over quota, read-only) wherever it surfaces.

A full disk shows up as an ``OSError`` from a shard write, an ``sqlite3.OperationalError``
("database or disk is full") from the response cache, or either of them wrapped by the layer that
noticed it. :func:`storage_problem` looks through the exception chain and says, in words a user
can act on, what went wrong, or returns None for every other exception.
"""

from __future__ import annotations

import errno
import sqlite3

_ERRNO_WORDS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EFBIG: "a file grew past the size the file system allows",
}
_SQLITE_WORDS = {
    "database or disk is full": "no space left on the device",
    "attempt to write a readonly database": "the file system is read-only",
    "disk i/o error": "a disk I/O error (is the disk full?)",
}


def storage_problem(exc: BaseException | None) -> str | None:
    """What the disk refused (e.g. ``"no space left on the device (writing OUT/data/part-00003.parquet)"``),
    or None when ``exc`` (and what caused it) is not a storage failure."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _ERRNO_WORDS:
            where = f" (writing {exc.filename})" if exc.filename else ""
            return _ERRNO_WORDS[exc.errno] + where
        if isinstance(exc, sqlite3.OperationalError):
            text = str(exc).lower()
            for needle, words in _SQLITE_WORDS.items():
                if needle in text:
                    return words + " (writing the response cache)"
        exc = exc.__cause__ or exc.__context__
    return None


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` is an out-of-space (or quota) error: freeing space would let a write succeed."""
    problem = storage_problem(exc)
    return problem is not None and (problem.startswith("no space") or problem.startswith("the disk quota"))
