"""What a run's rows depend on, per segment, so that a rerun recomputes exactly what changed.

A segment's fingerprint hashes its steps' descriptions (class, every declared option, user code,
packaged templates), the identities of the models they call, the data identity of a source head,
the run's ``params``, ``-n`` and the partition size, and the fingerprints of the segments it reads.
A changed step therefore changes its own segment's fingerprint and, through the chain, those of
every segment downstream; the segments upstream keep theirs and resume.
"""

from __future__ import annotations

from typing import Any

import orjson
import xxhash

from ..pipeline.pipeline import Pipeline
from ..pipeline.step import SourceStep
from .plan import Segment

#: model settings that change what a model answers (the rest — limits, retries — do not)
MODEL_IDENTITY_KEYS = ("backend", "model", "base_url", "endpoint")


def _hash(obj: Any) -> str:
    return xxhash.xxh3_128_hexdigest(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS, default=str))


def segment_fingerprints(pipeline: Pipeline, segments: list[Segment], *, limit: int | None, partition_size: int,
                         data_format: str, prefix_sources: bool = False) -> dict[str, str]:
    """``{segment name: fingerprint}`` for segments given in topological order. With
    ``prefix_sources`` a source-headed segment's fingerprint leaves ``limit`` out: the engine then
    checks its committed partitions record by record (``SegmentRunner(verify_source=True)``), so a
    run under another ``-n`` keeps those made from the same records; the segments downstream keep
    ``limit`` in theirs (their input changes with it)."""
    models = {name: {k: v for k, v in cfg.public_dict().items() if k in MODEL_IDENTITY_KEYS}
              for name, cfg in pipeline.model_configs.items()}
    out: dict[str, str] = {}
    for seg in segments:
        used = sorted({m for s in seg.steps for m in s.models} | {m for s in seg.steps for b in s.substeps()
                                                                   for m in b.models})
        out[seg.name] = _hash({
            "steps": [s.describe() for s in seg.steps],
            "models": {m: models.get(m) for m in used},
            "source": seg.head.fingerprint() if isinstance(seg.head, SourceStep) else None,
            "upstream": [out[u] for u in seg.upstream],
            "params": pipeline.params,
            "limit": "prefix" if prefix_sources and isinstance(seg.head, SourceStep) else limit,
            "partition_size": partition_size,
            "format": data_format if seg.final else None,
        })
    return out


def run_fingerprint(segment_fps: dict[str, str]) -> str:
    """The whole run's fingerprint: all segments' (equal on a rerun of an unchanged recipe)."""
    return _hash(segment_fps)
