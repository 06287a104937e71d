"""The batch journal: which provider batches a run submitted, and which requests each holds.

One JSON object per line in ``.state/batches.jsonl``, appended and fsynced:
``{"batch": ID, "identity": BACKEND, "ids": [custom_id, ...]}`` right after a batch is submitted,
``{"settled": ID}`` once every item of it has been answered and the answers are in the response
cache (or given up). A custom_id is the hex cache key of its request, so a rerun that asks the
same request again finds the batch that already holds it and collects its result instead of
submitting it again. A torn last line (a kill during an append) is ignored and cut off, as in
``engine/journal.py``. The response cache is content-addressed and so is this file: ``--fresh``
keeps both.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import orjson


@dataclass
class JournaledBatch:
    """A batch submitted by this or an earlier run and not settled yet."""

    id: str
    identity: str
    ids: list[str]


class BatchJournal:
    """Append-only record of submitted and settled batches; shared by a run's batch models."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.pending: dict[str, JournaledBatch] = {}
        if path is not None:
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good_end = 0
        while good_end < len(data):
            line_end = data.find(b"\n", good_end)
            if line_end < 0:
                break  # no newline: a torn last line
            try:
                entry = orjson.loads(data[good_end:line_end])
            except orjson.JSONDecodeError:
                break
            self._apply(entry)
            good_end = line_end + 1
        if good_end < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good_end)

    def _apply(self, entry: dict) -> None:
        if "settled" in entry:
            self.pending.pop(entry["settled"], None)
        elif "batch" in entry:
            self.pending[entry["batch"]] = JournaledBatch(entry["batch"], entry.get("identity", ""), list(entry["ids"]))

    def pending_for(self, identity: str) -> list[JournaledBatch]:
        """Unsettled batches sent to the backend named ``identity``, oldest first."""
        return [b for b in self.pending.values() if b.identity == identity]

    def submitted(self, batch_id: str, identity: str, ids: list[str]) -> None:
        """Record a batch the provider accepted (before anything else happens to it)."""
        self._append({"batch": batch_id, "identity": identity, "ids": ids})

    def settled(self, batch_id: str) -> None:
        """Record that nothing more is needed from ``batch_id``."""
        self._append({"settled": batch_id})

    def _append(self, entry: dict) -> None:
        with self._lock:
            self._apply(entry)
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as f:
                f.write(orjson.dumps(entry) + b"\n")
                f.flush()
                os.fsync(f.fileno())
