"""Cutting a pipeline into segments: streaming steps fuse behind their head; branches, globals and
joins start new segments; cycles are refused before anything runs."""

from __future__ import annotations

import pytest

from synthloom import LLMStep, MapStep, Pipeline, RecordsSource
from synthloom.curate.exact_dedup import ExactDedup
from synthloom.engine.plan import plan_segments
from synthloom.pipeline.pipeline import PipelineError
from synthloom.steps.join import KeyJoin


class Upper(MapStep):
    def map(self, record):
        return {**record, "q": record["q"].upper()}


def llm(name: str, **kw) -> LLMStep:
    return LLMStep(name, prompt=lambda r: r["q"], output=name, reads=["q"], **kw)


def shape(pipeline: Pipeline) -> list[tuple]:
    return [(s.head.name if s.head else None, [c.name for c in s.chain], s.upstream, s.final)
            for s in plan_segments(pipeline)]


def src() -> RecordsSource:
    return RecordsSource("seeds", rows=[{"q": "a", "k": 1}])


def test_a_chain_fuses_into_one_segment():
    p = Pipeline([src(), Upper("up"), llm("a"), llm("b")])
    assert shape(p) == [("seeds", ["up", "a", "b"], [], True)]


def test_a_global_step_starts_a_segment_and_materialises_its_input():
    p = Pipeline([src(), llm("a"), ExactDedup("dedup", columns=["a"]), llm("b")])
    assert shape(p) == [("seeds", ["a"], [], False), ("dedup", ["b"], ["a"], True)]


def test_a_branch_is_not_fused_and_a_join_reads_both_sides():
    a = llm("a", inputs=["up"])
    b = llm("b", inputs=["up"])
    p = Pipeline([src(), Upper("up"), a, b, KeyJoin("both", inputs=["a", "b"], on="k")])
    assert shape(p) == [
        ("seeds", ["up"], [], False),
        (None, ["a"], ["up"], False),
        (None, ["b"], ["up"], False),
        ("both", [], ["a", "b"], True),
    ]


def test_a_cycle_is_refused_with_the_step_named():
    a = llm("a", inputs=["b"])
    b = llm("b", inputs=["a"])
    p = Pipeline([src(), a, b, KeyJoin("j", inputs=["seeds", "b"], on="k")])
    with pytest.raises(PipelineError, match="part of a cycle") as e:
        p.validate()
    assert e.value.step in ("a", "b")
