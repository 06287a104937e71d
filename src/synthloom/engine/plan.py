"""Cutting a pipeline DAG into segments the engine can stream.

A segment is a *head* (a source, a global or join step, or a read of a materialised upstream
segment) followed by a *chain* of streaming steps fused together: records flow from the head
through the chain without touching disk. A segment's output is either the dataset (the final
segment) or materialised under ``.state/nodes/<segment>/`` because a branch, a global step or a
join reads it. Segments run in topological order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..pipeline.pipeline import Pipeline
from ..pipeline.step import GlobalStep, SourceStep, Step, StreamStep


@dataclass
class Segment:
    """A head plus a chain of fused streaming steps."""

    head: Step | None  # None: the segment streams the materialised output of ``upstream[0]``
    chain: list[StreamStep] = field(default_factory=list)
    upstream: list[str] = field(default_factory=list)  # segments whose output this one reads
    final: bool = False

    @property
    def name(self) -> str:
        if self.chain:
            return self.chain[-1].name
        assert self.head is not None
        return self.head.name

    @property
    def steps(self) -> list[Step]:
        return ([self.head] if self.head is not None else []) + list(self.chain)


def plan_segments(pipeline: Pipeline) -> list[Segment]:
    """Segments in an order where every segment comes after those it reads."""
    order = pipeline.topological()
    final = pipeline.final_step()
    segment_of: dict[str, Segment] = {}
    segments: list[Segment] = []
    for step in order:
        if isinstance(step, (SourceStep, GlobalStep)):
            seg = Segment(head=step, upstream=[segment_of[n].name for n in step.inputs])
            segments.append(seg)
        else:
            assert isinstance(step, StreamStep), f"{step!r} is neither a head nor a streaming step"
            (parent,) = step.inputs
            parent_seg = segment_of[parent]
            fusable = parent_seg.name == parent and len(pipeline.consumers(parent)) == 1
            if fusable:
                seg = parent_seg
                seg.chain.append(step)
            else:
                seg = Segment(head=None, chain=[step], upstream=[parent_seg.name])
                segments.append(seg)
        segment_of[step.name] = seg
    segment_of[final.name].final = True
    return segments
