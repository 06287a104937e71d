"""Attribute-conditioned recipes (topic × audience × style with knowledge-infused topics) end to end on a scripted
model (TinyStories: tests/methods/corpus/test_tinystories.py)."""

from __future__ import annotations

import json
from collections import Counter

from synthloom.io.shards import read_shards
from synthloom.recipes.loader import BUILTIN_DIR
from synthloom.testing.recipe_runs import run_recipe
from synthloom.testing.scripted import user_text

LISTS = json.loads((BUILTIN_DIR / "attribute_lists.json").read_text())


def test_attribute_prompts_recipe_covers_every_audience_and_style(tmp_path, scripted_model):
    out = tmp_path / "texts"
    seen_prompts = []

    def reply(req):
        seen_prompts.append(user_text(req))
        return "A text."

    run_recipe("attribute-prompts", out, extra_cli_args=("-n", "48", "--model", scripted_model(reply)))
    data = list(read_shards(out / "data"))
    assert len(data) == 48
    assert Counter(r["audience"] for r in data) == {a: 8 for a in LISTS["audiences"]}
    assert Counter(r["style"] for r in data) == {s: 6 for s in LISTS["styles"]}
    topics = Counter(r["topic"] for r in data)
    assert len(topics) == 8 and set(topics.values()) == {6}
    assert all(r["knowledge"] in p for r in data for p in [next(p for p in seen_prompts if r["topic"] in p)])
