"""What one run directory holds, read without ever writing to it or taking its lock.

Tables: ``data`` (``data/``), ``rejected`` (every ``rejected/<segment>/``), ``errors`` (every
``errors/<segment>/``) and ``steps`` (the materialised intermediate rows in ``.state/nodes/``). The run:
``run.json``, the per-step counts of a running run summed from the journal (read-only: a torn last line
is skipped, not cut off), the card, the report's plots and metrics, and the response cache opened
read-only (``mode=ro``; ``immutable`` when no writer has it open, so SQLite creates no ``-wal``/``-shm``
files in the run directory).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from ..io.rundir import RunDir
from ..llm.cached_calls import find_calls
from .query import QueryError
from .shard_set import SHARD_SUFFIXES, ShardSet, shard_files
from .table import TableView

TABLES = ("data", "rejected", "errors", "steps")
REPORT_FILES = (".png", ".svg", ".json", ".html", ".jpg")


class ViewerError(ValueError):
    """The path given to the viewer is not something it can show; the message says what to give."""


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []


class _LiveShardSet(ShardSet):
    """The shards of every sub-folder of ``parent``, listed at each call (a running run adds segments)."""

    def __init__(self, parent: Path):
        super().__init__()
        self.parent = parent

    def paths(self) -> list[Path]:
        return [path for folder in _subfolders(self.parent) for path in shard_files(folder)]


class RunSource:
    """A run directory (or a folder of shards, or one shard file) as the viewer reads it."""

    def __init__(self, path: Path, cache_path: Path | None = None):
        self.root = Path(path).absolute()
        self.dirs = RunDir(self.root)
        if not self.root.exists():
            raise ViewerError(f"{path}: no such run directory; give the folder `synthloom run -o` wrote")
        self.is_run = self.root.is_dir() and (self.dirs.run_json.exists() or self.dirs.data.is_dir())
        if self.root.is_file():
            if self.root.suffix not in SHARD_SUFFIXES:
                raise ViewerError(f"{path}: not a .parquet or .jsonl file; give a run directory or a shard file")
            data = ShardSet(files=[self.root])
        elif self.is_run:
            data = ShardSet(folders=[self.dirs.data])
        elif shard_files(self.root):
            data = ShardSet(folders=[self.root])
        else:
            raise ViewerError(f"{path}: neither a run directory (no data/ or run.json) nor a folder of shards; "
                              "give the folder `synthloom run -o` wrote")
        self.cache_path = cache_path or self.dirs.state / "cache.sqlite"
        root = self.root if self.root.is_dir() else self.root.parent
        self.tables = {"data": TableView("data", data, root)}
        if self.is_run:
            self.tables["rejected"] = TableView("rejected", _LiveShardSet(self.dirs.rejected), root)
            self.tables["errors"] = TableView("errors", _LiveShardSet(self.dirs.errors), root)
            self.tables["steps"] = TableView("steps", _LiveShardSet(self.dirs.state / "nodes"), root)

    @property
    def name(self) -> str:
        info = self.run_json() or {}
        return str(info.get("pipeline") or self.root.name)

    def table(self, name: str) -> TableView:
        try:
            return self.tables[name]
        except KeyError:
            raise QueryError(f"table {name!r}: this run has {', '.join(self.tables)}") from None

    # -- the run ---------------------------------------------------------------------------------------
    def run_json(self) -> dict[str, Any] | None:
        return self.dirs.read_run_json() if self.is_run else None

    def summary(self) -> dict[str, Any]:
        """Everything the run page shows, read now (a running run changes between calls)."""
        info = self.run_json() or {}
        status = info.get("status", "completed" if not self.is_run else "unknown")
        out: dict[str, Any] = {
            "name": self.name, "path": str(self.root), "status": status, "message": info.get("message", ""),
            "started": info.get("started"), "finished": info.get("finished"), "elapsed_s": info.get("elapsed_s"),
            "rows": info.get("rows"), "counts": info.get("counts"), "usage": info.get("usage"),
            "models": info.get("models"), "steps": self.steps(), "now": time.time(),
            "tables": {name: sum(c.rows for c in t.chunks()) for name, t in self.tables.items()},
        }
        if status == "running":
            out["counts"] = self.journal_counts()
            out["alive"] = self.writer_alive()
            out["elapsed_s"] = time.time() - info["started"] if info.get("started") else None
        out["card"] = _read_text(self.dirs.card)
        out["report"] = self.report()
        return out

    def steps(self) -> list[dict[str, str]]:
        """The steps in recipe order with their types (from ``recipe.lock.yaml``)."""
        try:
            lock = yaml.safe_load(self.dirs.lock.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            return []
        return [{"name": str(s.get("name")), "type": str(s.get("type"))} for s in lock.get("steps") or [] if isinstance(s, dict)]

    def journal_counts(self) -> dict[str, dict[str, int]]:
        """Per-step counts over the partitions committed so far (the journal, read as the engine replays it)."""
        try:
            data = self.dirs.journal.read_bytes()
        except OSError:
            return {}
        partitions: dict[str, dict[int, dict]] = {}
        for line in data.split(b"\n"):
            try:
                entry = orjson.loads(line) if line.strip() else None
            except orjson.JSONDecodeError:
                break  # a torn last line of a run writing right now
            if not isinstance(entry, dict) or "seg" not in entry:
                continue
            if "reset" in entry:
                partitions.pop(entry["seg"], None)
            elif "part" in entry:
                partitions.setdefault(entry["seg"], {})[entry["part"]] = entry.get("counts") or {}
        total: dict[str, dict[str, int]] = {}
        for parts in partitions.values():
            for counts in parts.values():
                for step, c in counts.items():
                    t = total.setdefault(step, {})
                    for k, v in c.items():
                        t[k] = t.get(k, 0) + v
        return total

    def writer_alive(self) -> bool | None:
        """Whether the process named in the run lock still exists (None when unknown)."""
        try:
            pid = int((self.dirs.state / "run.lock").read_text().strip())
        except (OSError, ValueError):
            return None
        return Path(f"/proc/{pid}").exists() if Path("/proc").is_dir() else None

    def report(self) -> dict[str, Any] | None:
        folder = self.root / "report"
        if not folder.is_dir():
            return None
        plots = sorted(p.name for p in folder.iterdir() if p.suffix in (".png", ".svg", ".jpg"))
        metrics = None
        try:
            metrics = orjson.loads((folder / "metrics.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            pass
        return {"plots": plots, "metrics": metrics, "index": (folder / "index.html").is_file()}

    def report_file(self, name: str) -> Path | None:
        """``report/NAME`` when it is a plain file of the report (no other path is ever served)."""
        if "/" in name or "\\" in name or name.startswith(".") or Path(name).suffix not in REPORT_FILES:
            return None
        path = self.root / "report" / name
        return path if path.is_file() else None

    # -- lineage ---------------------------------------------------------------------------------------
    def find(self, row_id: str) -> list[dict[str, Any]]:
        """Every row with id ``row_id`` in every table (the row at each step that kept it, its rejection...)."""
        out = []
        for name, table in self.tables.items():
            for row in table.find([row_id]):
                out.append({"table": name, "row": row})
        return out

    def calls(self, prompt_hash: str, model: str | None) -> dict[str, Any]:
        """The cached request(s) and response(s) a lineage entry points to."""
        if not self.cache_path.is_file():
            return {"calls": [], "note": f"no response cache at {self.cache_path} (the run used --no-cache, or "
                                         "--cache-dir: give that folder's cache.sqlite with --cache)"}
        # a connection per lookup: a writer may start or stop between two (immutable is only for a still file)
        live = all(Path(f"{self.cache_path}{s}").exists() for s in ("-wal", "-shm"))
        uri = f"{self.cache_path.as_uri()}?mode=ro" + ("" if live else "&immutable=1")
        conn = sqlite3.connect(uri, uri=True)
        try:
            calls = find_calls(conn, prompt_hash, model)
        finally:
            conn.close()
        note = "" if calls else ("not in the cache: it was written by a synthloom that did not keep requests, "
                                 "or with --no-cache, or the cache was cleared")
        return {"calls": calls, "note": note}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
