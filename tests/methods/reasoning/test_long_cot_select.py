"""s1-style selection: solved problems dropped, domains drawn uniformly, longer traces first."""

from __future__ import annotations

import pytest

from synthloom.methods.reasoning.long_cot_select import LongCoTSelect
from synthloom.pipeline.step import RejectedRow


def rows() -> list[dict]:
    out = []
    for i in range(6):  # algebra: six problems, trace i+1 words long
        out.append({"id": f"a{i}", "domain": "algebra", "pass_rate": 0.0, "reasoning": "w " * (i + 1)})
    out.append({"id": "g0", "domain": "geometry", "pass_rate": 0.0, "reasoning": "w"})
    out.append({"id": "easy", "domain": "geometry", "pass_rate": 0.5, "reasoning": "w " * 50})
    out.append({"id": "n0", "domain": None, "pass_rate": 0.0, "reasoning": None})
    return out


def split(out):
    kept = [r for r in out if not isinstance(r, RejectedRow)]
    return kept, {r.record["id"]: r.verdict for r in out if isinstance(r, RejectedRow)}


def test_hard_problems_spread_over_domains_with_the_longest_traces_first():
    kept, rejected = split(list(LongCoTSelect("s1", size=3).run(iter(rows()))))
    ids = {r["id"] for r in kept}
    # three domains with rows left (algebra, geometry, unknown) and three draws: each domain gets one
    # while it has rows — a uniform draw over rows would mostly pick algebra
    assert len(kept) == 3 and "g0" in ids and "n0" in ids and len(ids & {f"a{i}" for i in range(6)}) == 1
    assert sorted(r["selection_rank"] for r in kept) == [0, 1, 2]
    assert [r["id"] for r in kept] == [r["id"] for r in rows() if r["id"] in ids]  # input order kept
    assert rejected["easy"].reason == "too easy: pass rate 0.5 over 0" and rejected["easy"].score == 0.5
    assert rejected["a0"].reason == "not drawn: 3 rows chosen before it (domain 'algebra', its trace 6 of 6 by length)"


def test_within_a_domain_longer_traces_are_drawn_first_most_of_the_time():
    algebra = [r for r in rows() if r["domain"] == "algebra"]
    firsts = []
    for seed in range(40):
        kept, _ = split(list(LongCoTSelect("s1", size=1, seed=seed, difficulty_column=None).run(iter(algebra))))
        firsts.append(kept[0]["id"])
    assert firsts.count("a5") > firsts.count("a4") > firsts.count("a1")  # weights 2^-rank: 1/2, 1/4, …
    kept, _ = split(list(LongCoTSelect("s1", size=1, seed=7).run(iter(algebra))))
    again, _ = split(list(LongCoTSelect("s1", size=1, seed=7).run(iter(algebra))))
    assert kept == again  # the draws are seeded


def test_options_and_missing_difficulty():
    kept, rejected = split(list(LongCoTSelect("s1", size=10, max_pass_rate=0.5).run(iter(rows()))))
    assert len(kept) == 9 and not rejected
    _, rejected = split(list(LongCoTSelect("s1").run(iter([{"id": "x", "reasoning": "w"}]))))
    assert rejected["x"].reason == "no difficulty: column 'pass_rate' has no pass rate"
    with pytest.raises(ValueError, match="size must be >= 1"):
        LongCoTSelect("s1", size=0)
    with pytest.raises(ValueError, match="max_pass_rate must be in"):
        LongCoTSelect("s1", max_pass_rate=2)
