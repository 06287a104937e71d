"""``join``: merge two branches by key columns, spilling to disk so memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import xxhash

from ..io.shards import SpillWriter, iter_spill
from ..pipeline.step import JoinStep, Rejected, RejectedRow
from ..records import ID, LINEAGE, derive_id


class KeyJoin(JoinStep):
    """Joins the first input (left) with the second (right) on ``on`` columns.

    ``how: inner`` rejects left rows without a match, ``how: left`` keeps them. Right rows no left
    row matched are rejected too, so no row vanishes. Left columns win on a clash; a left row with
    several matches yields one row per match (ids derived from the left id). Rows are hashed into
    ``buckets`` spill files per side; one right bucket at a time is held in memory.
    """

    type_name = "join"

    def __init__(self, name: str, *, inputs: list[str], on: list[str] | str, how: str = "inner", buckets: int = 16) -> None:
        keys = [on] if isinstance(on, str) else list(on)
        if how not in ("inner", "left"):
            raise ValueError(f"join {name!r}: how must be 'inner' or 'left', not {how!r}")
        super().__init__(name, inputs=inputs, reads=keys)
        self.on, self.how, self.buckets = keys, how, buckets

    def _key(self, record: dict[str, Any]) -> tuple:
        return tuple(str(record.get(k)) for k in self.on)

    def _bucket(self, key: tuple) -> int:
        return xxhash.xxh3_64_intdigest("\x1f".join(key).encode()) % self.buckets

    def _spill(self, rows: Iterator[dict[str, Any]], side: str) -> list:
        spill = self.ctx.spill_dir
        paths = [spill / f"{side}-{b:03d}.jsonl" for b in range(self.buckets)]
        writers = [SpillWriter(p) for p in paths]
        for pos, r in enumerate(rows):
            writers[self._bucket(self._key(r))].write({"pos": pos, "row": r})
        for w in writers:
            w.close()
        return paths

    def run_join(self, inputs: list[Iterator[dict[str, Any]]]) -> Iterator[dict[str, Any] | RejectedRow]:
        left_paths = self._spill(inputs[0], "left")
        right_paths = self._spill(inputs[1], "right")
        for lp, rp in zip(left_paths, right_paths):
            right: dict[tuple, list[dict[str, Any]]] = {}
            for item in iter_spill(rp):
                right.setdefault(self._key(item["row"]), []).append(item["row"])
            matched: set[tuple] = set()
            for item in sorted(iter_spill(lp), key=lambda it: it["pos"]):
                row = item["row"]
                key = self._key(row)
                matches = right.get(key)
                if not matches:
                    if self.how == "left":
                        yield row
                    else:
                        yield RejectedRow(row, Rejected(f"no row of {self.inputs[1]!r} has {dict(zip(self.on, key))}"))
                    continue
                matched.add(key)
                for j, m in enumerate(matches):
                    merged = {**{k: v for k, v in m.items() if k not in (ID, LINEAGE)}, **row}
                    if len(matches) > 1:
                        merged[ID] = derive_id(row.get(ID, ""), self.name, j)
                    yield merged
            for key, rows in right.items():
                if key not in matched:
                    for r in rows:
                        yield RejectedRow(r, Rejected(f"no row of {self.inputs[0]!r} has {dict(zip(self.on, key))}"))
