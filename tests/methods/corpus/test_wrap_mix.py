"""WRAP's mix of real and rephrased text: the token ratio is within 1% of the target, every chunk is
written or rejected with a reason, and the manifest says what went in."""

from __future__ import annotations

import json
import random

import pytest

from synthloom.methods.corpus.wrap_mix import WrapMix, plan_mix
from synthloom.pipeline.step import RejectedRow
from synthloom.records import ID


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(["soil", "heap", "green", "brown", "air", "water", "worms"]) for _ in range(n))


def chunk_rows(n: int, seed: int = 1, columns: tuple[str, ...] = ("rephrased",)) -> list[dict]:
    rng = random.Random(seed)
    return [{ID: f"c{i}", "doc_id": f"doc{i // 4}", "chunk_index": i % 4, "text": words(rng, rng.randint(20, 300)),
             **{c: words(rng, rng.randint(10, 400)) for c in columns}} for i in range(n)]


def mix(rows: list[dict], **options) -> tuple[list[dict], list[RejectedRow], dict]:
    step = WrapMix("mix", tokenizer="whitespace", **options)
    out = list(step.run(iter(rows)))
    kept = [r for r in out if not isinstance(r, RejectedRow)]
    return kept, [r for r in out if isinstance(r, RejectedRow)], step.last_manifest


@pytest.mark.parametrize("real_fraction", [0.5, 0.25, 0.7])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_written_tokens_keep_the_ratio_within_one_percent(real_fraction, seed):
    rows = chunk_rows(40, seed)
    kept, rejected, manifest = mix(rows, real_fraction=real_fraction, seed=seed)
    real = sum(len(r["text"].split()) for r in kept if r["kind"] == "real")
    synthetic = sum(len(r["text"].split()) for r in kept if r["kind"] == "synthetic")
    target = real_fraction / (1 - real_fraction)
    assert abs(real / synthetic / target - 1) <= 0.01
    assert manifest["tokens"]["real"] == real and manifest["tokens"]["synthetic"] == synthetic
    assert manifest["ratio_error"] <= 0.01 and manifest["target_real_fraction"] == real_fraction
    # every chunk is written (at least one of its texts) or rejected with the reason
    written = {r["chunk_id"] for r in kept}
    assert written | {r.record[ID] for r in rejected} == {r[ID] for r in rows} and not written & {r.record[ID] for r in rejected}
    assert all("not needed for the mix" in r.verdict.reason for r in rejected)
    # texts are the chunks' own text (a trimmed one is a prefix, cut at a word)
    by_id = {r[ID]: r for r in rows}
    for r in kept:
        source = by_id[r["chunk_id"]][r["source_column"]]
        assert source.startswith(r["text"]) and (r["truncated"] or source == r["text"])
        assert r["tokens"] == len(r["text"].split()) and r["doc_id"] == by_id[r["chunk_id"]]["doc_id"]
    assert sum(r["truncated"] for r in kept) <= 1
    listed = {c["chunk_id"] for d in manifest["documents"] for c in d["chunks"]}
    assert listed == written and manifest["rows"]["chunks_in"] == 40


def test_the_scarcer_kind_goes_in_whole_and_several_styles_mix_together():
    rows = chunk_rows(30, 3, columns=("medium", "qa"))
    kept, _, manifest = mix(rows, synthetic=["medium", "qa"], real_fraction=0.5)
    assert {r["source_column"] for r in kept} == {"text", "medium", "qa"}
    assert manifest["tokens"]["real"] == manifest["tokens"]["real_available"]  # real text is the scarcer kind here
    assert manifest["ratio_error"] <= 0.01
    ids = [r[ID] for r in kept]
    assert len(set(ids)) == len(ids) and kept[0]["_lineage"][-1]["step"] == "mix"
    again, _, _ = mix(rows, synthetic=["medium", "qa"], real_fraction=0.5)
    assert [r[ID] for r in again] == ids  # deterministic


def test_no_synthetic_text_means_every_chunk_is_rejected_saying_why():
    rows = [{ID: "a", "text": "real words here", "rephrased": ""}, {ID: "b", "text": "more", "rephrased": None}]
    kept, rejected, manifest = mix(rows)
    assert not kept and len(rejected) == 2 and "no synthetic text reached the mix" in rejected[0].verdict.reason
    assert manifest["achieved_real_fraction"] is None and manifest["tokens"]["real_available"] == 4


def test_plan_mix_fills_the_abundant_side_and_trims_one_text():
    real = {(i, "text"): 100 for i in range(10)}
    synthetic = {(i, "rephrased"): 30 for i in range(10)}
    plan = plan_mix(real, synthetic, 0.5, order_key=lambda k: k)
    assert sum(v for k, v in plan.take.items() if k[1] == "text") == 300 and plan.real_target == 300
    assert [plan.take.get((i, "text")) for i in range(4)] == [100, 100, 100, None]
    trimmed = plan_mix(real, {(0, "rephrased"): 250}, 0.5, order_key=lambda k: k)
    assert trimmed.take[(2, "text")] == 50
    untrimmed = plan_mix(real, {(0, "rephrased"): 250}, 0.5, order_key=lambda k: k, trim=False)
    assert (2, "text") not in untrimmed.take


def test_options_are_checked_and_the_manifest_lands_in_the_run_directory(tmp_path):
    with pytest.raises(ValueError, match="real_fraction must be between 0 and 1"):
        WrapMix("m", real_fraction=1.0, tokenizer="whitespace")
    with pytest.raises(ValueError, match="other than real"):
        WrapMix("m", synthetic=["text"], tokenizer="whitespace")
    with pytest.raises(ValueError, match="plain file name"):
        WrapMix("m", manifest="../x.json", tokenizer="whitespace")
    from synthloom.pipeline.context import StepContext

    step = WrapMix("mix", tokenizer="whitespace")
    step.setup(StepContext(step="mix", models={}, state_dir=tmp_path / ".state"))
    list(step.run(iter(chunk_rows(6))))
    written = json.loads((tmp_path / "mix_manifest.json").read_text())
    assert written == step.last_manifest and written["rows"]["chunks_in"] == 6
