"""The run journal: which partitions of which segment are safely on disk, with their counts.

One JSON object per line in ``.state/journal.jsonl``. The first line holds the run fingerprint;
``{"seg", "fp"}`` lines hold each segment's fingerprint (what its rows depend on: its steps'
options and code, its models, its upstream segments' fingerprints), so a changed step recomputes
its segment and those downstream while the others resume.
A partition's shards are renamed into place *before* its line is appended (and fsynced), so a
line in the journal always means complete shards; a kill between the rename and the append only
means the partition is recomputed and its shards overwritten with identical rows. A torn last
line (kill during the append) is ignored and cut off.

A source-headed segment's partitions also record a digest of the source records they were made
from (``src``), and the segment records the source limit (``-n``) it last ran under
(``{"seg", "limit"}``), so that a run with a different limit keeps the partitions whose records are
the same and drops the others (``{"seg", "drop"}``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson


class Journal:
    """Append-only record of committed partitions and completed segments."""

    def __init__(self, path: Path):
        self.path = path
        self.fingerprint: str | None = None
        self.partitions: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.complete: dict[str, int] = {}
        self.segment_fps: dict[str, str] = {}
        self.limits: dict[str, int | None] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good_end = 0
        for line_end in _line_ends(data):
            line = data[good_end:line_end]
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                break
            self._apply(entry)
            good_end = line_end + 1
        if good_end < len(data):  # torn tail from a kill during an append
            with open(self.path, "r+b") as f:
                f.truncate(good_end)

    def _apply(self, entry: dict[str, Any]) -> None:
        if "fingerprint" in entry:
            self.fingerprint = entry["fingerprint"]
        elif "fp" in entry:
            self.segment_fps[entry["seg"]] = entry["fp"]
        elif "reset" in entry:
            self.partitions.pop(entry["seg"], None)
            self.complete.pop(entry["seg"], None)
        elif "complete" in entry:
            self.complete[entry["seg"]] = entry["partitions"]
        elif "limit" in entry:
            self.limits[entry["seg"]] = entry["limit"]
            self.complete.pop(entry["seg"], None)
        elif "drop" in entry:
            self.partitions.get(entry["seg"], {}).pop(entry["drop"], None)
            self.complete.pop(entry["seg"], None)
        else:
            self.partitions[entry["seg"]][entry["part"]] = entry

    def start(self, fingerprint: str) -> None:
        """Begin a new journal for a run with this fingerprint (discarding any old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"fingerprint": fingerprint}) + b"\n")
        os.replace(tmp, self.path)
        self.fingerprint = fingerprint
        self.partitions.clear()
        self.complete.clear()
        self.segment_fps.clear()
        self.limits.clear()

    def set_segment_fingerprint(self, seg: str, fp: str) -> None:
        """Forget what ``seg`` committed and record the fingerprint its new rows will have."""
        if self.partitions.get(seg) or seg in self.complete:
            self.reset(seg)
        self.append({"seg": seg, "fp": fp})

    def append(self, entry: dict[str, Any]) -> None:
        with open(self.path, "ab") as f:
            f.write(orjson.dumps(entry) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        self._apply(entry)

    def commit_partition(self, seg: str, part: int, counts: dict[str, dict[str, int]], rows: dict[str, int],
                         retry: int = 0, source: str | None = None) -> None:
        """``retry`` counts error rows caused by the model failing (not by one bad answer): a
        rerun recomputes such partitions, so rerunning after fixing the server retries them.
        ``source`` is the digest of the source records the partition was made from."""
        entry: dict[str, Any] = {"seg": seg, "part": part, "counts": counts, "rows": rows}
        if retry:
            entry["retry"] = retry
        if source is not None:
            entry["src"] = source
        self.append(entry)

    def note_limit(self, seg: str, limit: int | None) -> bool:
        """Record the source limit ``seg`` runs under; returns whether it differs from the last
        run's (the segment then runs again, checking its committed partitions against the source)."""
        if seg in self.limits and self.limits[seg] == limit:
            return False
        self.append({"seg": seg, "limit": limit})
        return True

    def drop_partition(self, seg: str, part: int) -> None:
        """Forget one committed partition of ``seg`` (its source records are not those it was made from)."""
        self.append({"seg": seg, "drop": part})

    def reset(self, seg: str) -> None:
        """Forget everything committed for ``seg`` (its input changed)."""
        self.append({"seg": seg, "reset": True})

    def to_retry(self, seg: str) -> set[int]:
        return {p for p, e in self.partitions.get(seg, {}).items() if e.get("retry")}

    def mark_complete(self, seg: str, partitions: int) -> None:
        self.append({"seg": seg, "complete": True, "partitions": partitions})

    def done(self, seg: str) -> set[int]:
        """Committed partitions that need no retry."""
        return {p for p, e in self.partitions.get(seg, {}).items() if not e.get("retry")}

    def counts(self, seg: str) -> dict[str, dict[str, int]]:
        """Per-step counts summed over the committed partitions of ``seg``."""
        total: dict[str, dict[str, int]] = {}
        for entry in self.partitions.get(seg, {}).values():
            for step, c in entry["counts"].items():
                t = total.setdefault(step, {})
                for k, v in c.items():
                    t[k] = t.get(k, 0) + v
        return total


def _line_ends(data: bytes):
    start = 0
    while True:
        i = data.find(b"\n", start)
        if i < 0:
            return
        yield i
        start = i + 1
