"""The run directory layout (see docs/architecture.md)::

    OUT/data/              output records, Parquet shards (JSONL on request)
    OUT/rejected/<step>/   rejected rows with the filter's name, reason and score
    OUT/errors/<step>/     error rows with the step and the message (and raw model text)
    OUT/card.md            dataset card
    OUT/recipe.lock.yaml   the fully resolved recipe
    OUT/run.json           status, counts, timings, usage
    OUT/.state/            journal, response cache, materialised intermediate nodes, spill files

``OUT/.state/reserve`` holds a little space back while a run writes: when the disk fills up, the
run frees it to write ``run.json`` and the card saying what happened.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import Any

import orjson


def atomic_write_text(path: Path, text: str | bytes) -> None:
    """Write then rename, so readers never see half a file."""
    tmp = path.with_name(f".tmp-{path.name}")
    data = text.encode() if isinstance(text, str) else text
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise


#: space held back for the final run.json and card.md when the disk fills up
RESERVE_BYTES = 128 * 1024


class RunDir:
    """Paths of one run directory and the small files written into it."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.data = self.root / "data"
        self.rejected = self.root / "rejected"
        self.errors = self.root / "errors"
        self.card = self.root / "card.md"
        self.lock = self.root / "recipe.lock.yaml"
        self.run_json = self.root / "run.json"
        self.state = self.root / ".state"
        self.journal = self.state / "journal.jsonl"
        self.reserve = self.state / "reserve"

    def node(self, segment: str) -> Path:
        return self.state / "nodes" / segment

    def create(self) -> None:
        for d in (self.root, self.data, self.rejected, self.errors, self.state):
            d.mkdir(parents=True, exist_ok=True)

    def clear_outputs(self) -> None:
        """Remove committed outputs (for --fresh or a changed recipe); the response cache stays."""
        for d in (self.data, self.rejected, self.errors, self.state / "nodes", self.state / "spill"):
            shutil.rmtree(d, ignore_errors=True)
        for f in (self.card, self.run_json):
            f.unlink(missing_ok=True)
        self.create()

    def make_reserve(self) -> None:
        """Hold :data:`RESERVE_BYTES` back (best effort: a disk already that full gets no reserve)."""
        if self.reserve.is_file() and self.reserve.stat().st_size >= RESERVE_BYTES:
            return
        try:
            with open(self.reserve, "wb") as f:
                f.write(b"\0" * RESERVE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            self.free_reserve()

    def free_reserve(self) -> None:
        try:
            self.reserve.unlink(missing_ok=True)
        except OSError:
            pass

    def write_run_json(self, info: dict[str, Any]) -> None:
        self._write_small(self.run_json, orjson.dumps(info, option=orjson.OPT_INDENT_2, default=str))

    def _write_small(self, path: Path, data: str | bytes) -> None:
        """Atomic write; on a full disk, free the reserve and try once more."""
        try:
            atomic_write_text(path, data)
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT) or not self.reserve.exists():
                raise
            self.free_reserve()
            atomic_write_text(path, data)

    def read_run_json(self) -> dict[str, Any] | None:
        try:
            return orjson.loads(self.run_json.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    def write_lock(self, text: str) -> None:
        self._write_small(self.lock, text)

    def write_card(self, text: str) -> None:
        self._write_small(self.card, text)
