"""TinyStories and TinyStories-Instruct: the bundled vocabulary, the paper's prompt and features, and both
recipes on a scripted model and on the embedded model (the word check: test_tinystories_words.py; the
instruction kinds: test_tinystories_instruct.py)."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from synthloom.methods.corpus.tinystories import FEATURES, VOCABULARY, TinyStoriesSeeds, TinyStoriesStory, load_vocabulary
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text


def test_the_bundled_vocabulary_has_about_1500_lowercase_words_by_part_of_speech_without_duplicates():
    raw = json.loads(VOCABULARY.read_text())
    sizes = {part: len(raw[part]) for part in ("verbs", "nouns", "adjectives")}
    assert sizes["verbs"] >= 400 and sizes["nouns"] >= 650 and sizes["adjectives"] >= 300, sizes
    assert 1400 <= sum(sizes.values()) <= 1700, sizes
    every = [w for part in ("verbs", "nouns", "adjectives") for w in raw[part]]
    assert len(every) == len(set(every)), [w for w, c in Counter(every).items() if c > 1]
    assert all(re.fullmatch(r"[a-z]+", w) for w in every), [w for w in every if not re.fullmatch(r"[a-z]+", w)]
    assert {"run", "jump", "dog", "ball", "happy", "big"} <= set(every)
    assert load_vocabulary() == {p: tuple(raw[p]) for p in ("verbs", "nouns", "adjectives")}


def test_seeds_draw_one_word_of_each_part_and_features_deterministically():
    seeds = TinyStoriesSeeds("s", n=200, seed=3)
    rows = list(seeds.read())
    assert rows == list(TinyStoriesSeeds("s", n=200, seed=3).read()) != list(TinyStoriesSeeds("s", n=200, seed=4).read())
    words = load_vocabulary()
    for row in rows:
        assert row["verb"] in words["verbs"] and row["noun"] in words["nouns"] and row["adjective"] in words["adjectives"]
        assert set(row["features"]) <= set(FEATURES) and len(row["features"]) <= 3
    assert {len(r["features"]) for r in rows} == {0, 1, 2, 3} and len({r["noun"] for r in rows}) > 100
    assert Counter(f for r in rows for f in r["features"]).keys() == FEATURES.keys()
    with pytest.raises(ValueError, match="unknown feature"):
        TinyStoriesSeeds("s", features=["Dialogue", "Rhyme"])
    with pytest.raises(ValueError, match="no such file"):
        TinyStoriesSeeds("s", vocabulary="/nowhere/words.json")


def test_the_story_prompt_is_the_papers_with_the_words_and_feature_phrases():
    model = ScriptedModel(lambda req: "Tom ran to the big tree. " * 10)
    row = {ID: "r", "verb": "decorate", "noun": "thunder", "adjective": "ancient", "features": ["Dialogue", "BadEnding"]}
    (out,) = run_step(TinyStoriesStory("story"), model, [row])
    text = user_text(model.requests[0])
    assert text.startswith("Write a short story (3-5 paragraphs) which only uses very simple words that a 3 year old")
    assert 'the verb "decorate", the noun "thunder" and the adjective "ancient"' in text
    assert ("The story should have the following features: the story should contain at least one dialogue, "
            "the story has a bad ending.") in text and text.endswith("Remember to only use simple words!")
    assert out[0]["story"].startswith("Tom ran") and model.requests[0].temperature == 1.0
    model = ScriptedModel(lambda req: "Tom ran.")
    (out,) = run_step(TinyStoriesStory("story"), model, [{**row, "features": []}])
    assert isinstance(out, Rejected) and "min_words" in out.reason
    assert "following features" not in user_text(model.requests[0])
    (out,) = run_step(TinyStoriesStory("story"), ScriptedModel(lambda req, j: ("Once", None, "length")), [row])
    assert isinstance(out, Rejected) and "max_tokens" in out.reason


def story_script(req) -> str:
    text = user_text(req)
    if text.startswith("Summarize"):
        return "A child plays and learns."
    verb, noun, adjective = re.search(r'the verb "(\w+)", the noun "(\w+)" and the adjective "(\w+)"', text).groups()
    if noun < "c":
        return "Once upon a time there was a sun. It was warm. Everyone was glad and they played all day long."
    return f"One day Tom wanted to {verb} with a {adjective} {noun}. He did it! Mom said, \"Well done.\" The end, friends."


def test_both_recipes_on_a_scripted_model(tmp_path, scripted_model):
    spec = scripted_model(story_script)
    run = run_recipe("tinystories", tmp_path / "ts", "n=30", extra_cli_args=("--model", spec))
    data, rejected, _ = completed_outputs(run, tmp_path / "ts")
    assert len(data) + len(rejected) == 30 and data and rejected
    assert all(r["_rejected_by"] == "has_words" and r["noun"] < "c" for r in rejected)
    assert all(set(r) == {ID, "_lineage", "verb", "noun", "adjective", "features", "story", "missing_words"}
               and r["noun"] in r["story"] and r["missing_words"] == []
               for r in data)
    run = run_recipe("tinystories-instruct", tmp_path / "tsi", "n=12", extra_cli_args=("--model", spec))
    data, rejected, _ = completed_outputs(run, tmp_path / "tsi")
    assert data and all(r["text"].endswith(r["story"]) and r["instruction_kinds"] for r in data)
    assert all(r["_rejected_by"] == "has_words" for r in rejected)


@needs_embedded
def test_both_recipes_end_to_end_on_the_embedded_model(tmp_path):
    run = run_recipe("tinystories", tmp_path / "ts", "max_tokens=48", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, tmp_path / "ts")
    assert len(data) + len(rejected) + len(errors) == 1
    assert all(r["_rejected_by"] in ("story", "has_words") and r["_reason"] for r in rejected)
    # a story of one paragraph and a summary of one line (stop sequences) leave the Instruct steps time to run
    out = tmp_path / "tsi"
    run = run_recipe("tinystories-instruct", out, 'steps.story.stop=["\\n\\n"]', 'steps.summary.stop=["\\n"]',
                     "on_missing=tag", "summary_max_tokens=64", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) + len(rejected) + len(errors) == 1 and not errors
    assert all(r["_rejected_by"] in ("story", "summary") and r["_reason"] for r in rejected)
    for row in data:
        assert row["text"].endswith(row["story"]) and row["_lineage"][0]["model"].startswith("llamacpp:")
        assert isinstance(row["missing_words"], list)
