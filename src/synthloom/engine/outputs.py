"""Where a segment's rows go: the dataset (``data/``) or a materialised node, plus ``rejected/``
and ``errors/`` (one sub-folder per segment). Shard files are named by partition index and
written atomically, so rewriting a partition on resume replaces it with identical rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..io.shards import ShardWriter, remove_shards_not_in


class SegmentOutputs:
    """The three shard writers of one segment."""

    def __init__(self, data_dir: Path, rejected_dir: Path, errors_dir: Path, data_format: str = "parquet"):
        self.dirs = {"data": data_dir, "rejected": rejected_dir, "error": errors_dir}
        self.writers = {
            "data": ShardWriter(data_dir, format=data_format),
            "rejected": ShardWriter(rejected_dir, format="parquet"),
            "error": ShardWriter(errors_dir, format="parquet"),
        }

    def write_partition(self, index: int, rows: dict[str, list[dict[str, Any]]]) -> None:
        for kind, writer in self.writers.items():
            writer.write_shard(index, rows[kind])

    def remove_partition(self, index: int) -> None:
        """Delete the shards of one partition (one the journal no longer lists)."""
        for writer in self.writers.values():
            writer.path_for(index).unlink(missing_ok=True)

    def keep_only(self, partitions: set[int]) -> None:
        """Delete shards (and temp files) of partitions the journal does not list as committed."""
        for directory in self.dirs.values():
            if directory.exists():
                remove_shards_not_in(directory, partitions)
