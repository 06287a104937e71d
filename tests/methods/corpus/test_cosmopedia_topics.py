"""Cosmopedia's clustering and labelling on a scripted model: MiniLM k-means clusters, one
schema-constrained labelling call per cluster, the topic and educational value on every row, and the
rows of low-value or unlabelled clusters rejected with the reason."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from synthloom.methods.corpus.cosmopedia_topics import CosmopediaTopics, cluster_labels, cut
from synthloom.pipeline.step import RejectedRow
from synthloom.records import ID
from synthloom.testing.scripted import ScriptedModel, scripted_context, user_text

SPACE = ["Jupiter's moon Europa hides a salty ocean under its ice, a promising place to look for life beyond Earth.",
         "A light-year is the distance light travels in a year, about 9.46 trillion kilometres between the stars.",
         "Stars twinkle because turbulent air bends their light; planets show a small disk and shine steadily.",
         "The Andromeda galaxy is 2.5 million light-years away, the farthest object the naked eye can see at night."]
ADS = ["HUGE WINTER SALE! Up to 70% off all boots and sneakers this weekend, use code SNOWDEAL at checkout.",
       "Spin to win! New players get 200 free spins and a 500% deposit bonus, instant withdrawals, join now.",
       "Limited-time offer: three months of premium membership for the price of one, members-only discounts.",
       "Flash deal: buy one get one free on all handbags and sunglasses, free shipping, today only, shop now!"]


def label_reply(req) -> str:
    text = user_text(req)
    if "SALE" in text or "free spins" in text or "offer" in text or "deal" in text:
        return json.dumps({"topic": "Online Shopping Promotions", "educational_value": 2})
    return json.dumps({"topic": "Astronomy", "educational_value": 8})


def run_topics(step: CosmopediaTopics, reply, rows: list[dict]) -> tuple[list, ScriptedModel]:
    model = ScriptedModel(reply)
    step.setup(scripted_context(model, step=step.name))

    async def go():
        return [item async for item in step.run(iter(rows))]

    return asyncio.run(go()), model


def seed_rows() -> list[dict]:
    return [{ID: f"s{i}", "text": t} for i, t in enumerate(SPACE)] + [{ID: f"a{i}", "text": t} for i, t in enumerate(ADS)]


def test_clusters_are_labelled_once_each_and_low_value_clusters_are_dropped():
    out, model = run_topics(CosmopediaTopics("topics", n_clusters=2, samples_per_cluster=3, sample_chars=60),
                            label_reply, seed_rows())
    assert len(model.requests) == 2  # one labelling call per cluster
    for req in model.requests:
        assert req.json_schema["required"] == ["topic", "educational_value"]
        assert req.json_schema["properties"]["educational_value"]["enum"] == list(range(1, 11))
        assert req.temperature == 0.0 and user_text(req).count("Text ") == 3  # samples_per_cluster texts
        assert "Text 4:" not in user_text(req) and "9.46 trillion kilometres between the stars" not in user_text(req)
    kept = [r for r in out if not isinstance(r, RejectedRow)]
    dropped = [r for r in out if isinstance(r, RejectedRow)]
    assert [r[ID] for r in kept] == ["s0", "s1", "s2", "s3"]
    assert {r["topic"] for r in kept} == {"Astronomy"} and {r["educational_value"] for r in kept} == {8}
    assert len({r["cluster"] for r in kept}) == 1 and kept[0]["text"] == SPACE[0]  # the seed text is untouched
    assert [r.record[ID] for r in dropped] == ["a0", "a1", "a2", "a3"]
    assert {r.record["cluster"] for r in dropped} != {kept[0]["cluster"]}
    for r in dropped:
        assert r.verdict.reason.endswith("('Online Shopping Promotions'): educational value 2 < min_educational_value 4")
        assert r.verdict.score == 2.0
    assert kept[0]["_lineage"][0]["step"] == "topics" and kept[0]["_lineage"][0]["cluster"] == kept[0]["cluster"]


def test_the_threshold_is_an_option_and_an_unreadable_label_rejects_its_cluster():
    out, _ = run_topics(CosmopediaTopics("topics", n_clusters=2, min_educational_value=1), label_reply, seed_rows())
    assert not any(isinstance(r, RejectedRow) for r in out) and len(out) == 8
    out, model = run_topics(CosmopediaTopics("topics", n_clusters=2), lambda req: "Astronomy, probably a 7", seed_rows())
    assert all(isinstance(r, RejectedRow) for r in out) and len(model.requests) == 6  # 3 attempts per cluster
    assert all("the labeller gave no readable topic label" in r.verdict.reason for r in out)
    out, _ = run_topics(CosmopediaTopics("topics", n_clusters=1), lambda req: '{"topic": " ", "educational_value": 9}',
                        seed_rows())
    assert all(r.verdict.reason == "cluster 0: the labeller gave an empty topic" for r in out)


def test_cluster_numbers_follow_the_first_row_and_are_deterministic():
    rng = np.random.default_rng(1)
    centres = np.eye(3, 8, dtype=np.float32)
    x = np.concatenate([c + 0.01 * rng.standard_normal((5, 8)).astype(np.float32) for c in centres[[2, 0, 1]]])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = cluster_labels(x, 3, seed=0)
    assert labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert cluster_labels(x, 3, seed=0).tolist() == labels.tolist()
    assert cluster_labels(x[:8], None, seed=0).max() == 1  # default: ceil(sqrt(8 / 2)) = 2 clusters
    assert cut("one two three four", 9) == "one two" and cut("  a   b ", 10) == "a b"


def test_options_are_checked_when_the_step_is_built():
    with pytest.raises(ValueError, match="min_educational_value is on the 1-10 scale"):
        CosmopediaTopics("t", min_educational_value=11)
    with pytest.raises(ValueError, match="n_clusters must be a whole number >= 1"):
        CosmopediaTopics("t", n_clusters=0)
    with pytest.raises(KeyError, match="a row has no column 'text'"):
        run_topics(CosmopediaTopics("t"), label_reply, [{ID: "x", "body": "no text column"}])
