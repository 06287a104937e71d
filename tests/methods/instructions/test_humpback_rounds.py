"""Humpback's iterative self-curation on a scripted model: round 1 shows the seed pairs, round k+1
the best pairs of round k's curated set (never the pair being rated), every row keeps its score of
every round, and the last round decides; then the recipe runs its rounds end to end."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from synthloom.io.shards import read_shards
from synthloom.methods.instructions.humpback import WEB_TAG
from synthloom.methods.instructions.humpback_rounds import HumpbackSelfCuration, read_rating
from synthloom.pipeline.step import RejectedRow
from synthloom.testing.recipe_runs import run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, scripted_context, user_text

SEEDS = [{"instruction": "Say hi.", "output": "Hi! How can I help?"}]
PAIRS = [{"id": k, "instruction": f"Explain {k}.", "output": f"{k} explained well."} for k in ("alpha", "beta", "gamma", "delta")]


def system_text(req) -> str:
    return next((m["content"] for m in req.messages if m["role"] == "system"), "")


def curate(step: HumpbackSelfCuration, model, rows) -> list:
    step.setup(scripted_context(model, step=step.name))

    async def go():
        return [item async for item in step.run(iter([dict(r) for r in rows]))]

    return asyncio.run(go())


def test_each_round_s_curated_set_gives_the_next_round_its_examples():
    scores = {1: {"alpha": 5, "beta": 5, "gamma": 3, "delta": 2}, 2: {"alpha": 5, "beta": 2, "gamma": 5, "delta": 2}}
    seen_round = {}

    def reply(req) -> str:
        system, user = system_text(req), user_text(req)
        pair = re.search(r"Explain (\w+)\.", user).group(1)
        round_no = 1 if "from the seed data" in system else 2
        seen_round.setdefault(round_no, []).append((pair, system))
        return f"Fine.\nScore: {scores[round_no][pair]}"

    model = ScriptedModel(reply)
    step = HumpbackSelfCuration("curate", rounds=2, examples=SEEDS, n_examples=2)
    out = curate(step, model, PAIRS)
    assert len(model.requests) == 8 and {r: len(v) for r, v in seen_round.items()} == {1: 4, 2: 4}
    for _pair, system in seen_round[1]:  # round 1: the seed data, as the paper's M0 is trained on it
        assert "Hi! How can I help?" in system and "Score: 5" in system
    for pair, system in seen_round[2]:  # round 2: round 1's curated set (alpha, beta), never the pair itself
        shown = set(re.findall(r"Explain (\w+)\.", system))
        assert "previous round of curation" in system and "Hi! How can I help?" not in system
        assert shown == {"alpha", "beta"} - {pair} if pair in ("alpha", "beta") else shown == {"alpha", "beta"}
    kept = {r["id"]: r for r in out if not isinstance(r, RejectedRow)}
    rejected = {r.record["id"]: r for r in out if isinstance(r, RejectedRow)}
    assert set(kept) == {"alpha", "gamma"} and set(rejected) == {"beta", "delta"}
    assert kept["gamma"]["round_scores"] == [3, 5] and kept["gamma"]["score"] == 5 and kept["gamma"]["system"] == WEB_TAG
    assert rejected["beta"].record["round_scores"] == [5, 2] and "round 2" in rejected["beta"].verdict.reason
    assert rejected["beta"].verdict.score == 2.0
    assert [e["round"] for e in kept["alpha"]["_lineage"]] == [1, 2]
    assert [m for m in model.requests[0].messages if m["role"] == "user"][0]["content"].startswith(
        "Below is an instruction from an user and a candidate answer.")  # the paper's prompt, verbatim


def test_an_empty_curated_set_keeps_the_examples_and_one_round_is_the_single_pass():
    systems = []

    def reply(req) -> str:
        systems.append(system_text(req))
        return "Score: 2"

    step = HumpbackSelfCuration("curate", rounds=3, examples=SEEDS, source_tag=False)
    out = curate(step, ScriptedModel(reply), PAIRS[:2])
    assert all("Hi! How can I help?" in s for s in systems) and len(systems) == 6  # nothing reached 5: seeds stay
    assert all(isinstance(r, RejectedRow) and r.record["round_scores"] == [2, 2, 2] for r in out)
    one = curate(HumpbackSelfCuration("curate", rounds=1, n_examples=0), ScriptedModel(lambda req: "x\nScore: 5"), PAIRS[:1])
    assert one[0]["round_scores"] == [5] and one[0]["score"] == 5


def test_no_score_rejects_with_the_reason_and_several_samples_average():
    out = curate(HumpbackSelfCuration("curate", rounds=1), ScriptedModel(lambda req: "no rating here"), PAIRS[:1])
    assert isinstance(out[0], RejectedRow) and "no 'Score: 1-5'" in out[0].verdict.reason
    out = curate(HumpbackSelfCuration("curate", rounds=1, min_score=4.5, n=2, temperature=0.7),
                 ScriptedModel(lambda req: ["Score: 5", "Score: 4"]), PAIRS[:1])
    assert out[0]["score"] == 4.5
    assert read_rating(json.dumps({"reasoning": "ok", "score": 4}), HumpbackSelfCuration("c").schema) == (4, "ok")


def test_options_are_checked():
    for bad in ({"rounds": 0}, {"min_score": 6}, {"n_examples": -1}):
        with pytest.raises(ValueError):
            HumpbackSelfCuration("curate", **bad)


def humpback_script(req) -> str:
    text = user_text(req)
    if text.endswith("Instruction:"):
        doc = text.rsplit("Response:\n", 1)[1]
        return f"Instruction: Write about: {doc[:30]}"
    if "previous round" in system_text(req):  # round 2: stricter, except for composting
        return "Perfect.\nScore: 5" if "composting" in text.lower() else "Forum-like.\nScore: 2"
    return "Perfect.\nScore: 5" if "composting" in text.lower() or "bicycle" in text.lower() else "Forum-like.\nScore: 2"


def test_recipe_runs_its_rounds_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "humpback"
    run = run_recipe("humpback", out, extra_cli_args=("--model", scripted_model(humpback_script)))
    c = run["counts"]
    assert c["backward"]["out"] == 8 and c["curate"]["in"] == 8 and c["curate"]["ok"] == 1
    data = list(read_shards(out / "data"))
    assert len(data) == 1 and data[0]["round_scores"] == [5, 5] and "composting" in data[0]["output"].lower()
    rejected = {r["output"][:40]: r for r in side_rows(out, "rejected") if r["_rejected_by"] == "curate"}
    bicycle = next(r for k, r in rejected.items() if "bicycle" in k.lower())
    assert bicycle["round_scores"] == [5, 2]  # curated in round 1, dropped by round 2's curator
