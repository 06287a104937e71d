"""Self-Translate-Train: translation into the target language, the language check, the back-translation
consistency filter, and the recipe on a scripted model and on the embedded model."""

from __future__ import annotations

import re

import pytest

from synthloom.methods.augmentation.self_translate import SelfTranslate
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

SOURCES: list[str] = []


def translator(req) -> str:
    """German for row i is "Das ist der Satz Nummer i ..."; back to English it is the source, except that
    rows i % 3 == 0 stay English and rows i % 3 == 1 come back changed."""
    prompt = user_text(req)
    text = re.search(r"^(?:English|German): (.*)$", prompt, re.MULTILINE).group(1)
    if prompt.startswith("Translate the following English text into German"):
        i = SOURCES.index(text) if text in SOURCES else len(SOURCES)
        if i == len(SOURCES):
            SOURCES.append(text)
        return text if i % 3 == 0 else f"German: Das ist der Satz Nummer {i} und er ist auf Deutsch."
    i = int(re.search(r"Nummer (\d+)", text).group(1))
    return "Bananas are yellow and grow on trees." if i % 3 == 1 else SOURCES[i]


def test_translation_language_check_and_back_translation_filter():
    SOURCES[:] = ["The storm knocked down trees.", "Stir the rice gently.", "The app keeps crashing."]
    model = ScriptedModel(translator)
    rows = [{ID: str(i), "text": t, "label": "x"} for i, t in enumerate(SOURCES)]
    english, drifted, (kept,) = run_step(SelfTranslate("translate", target_language="de"), model, rows)
    assert isinstance(english, Rejected) and english.reason == "the translation of 'text' is in 'en', not 'de'"
    assert isinstance(drifted, Rejected) and "drifted from the source" in drifted.reason and drifted.score < 0.4
    assert kept["text_de"] == "Das ist der Satz Nummer 2 und er ist auf Deutsch."  # the echoed label is cut
    assert kept["text_back"] == kept["text"] and kept["consistency"] == 1.0 and kept["label"] == "x"
    assert [e["step"] for e in kept["_lineage"]] == ["translate", "translate"]
    seeds = {req.seed for req in model.requests if req.seed is not None}
    assert all(req.temperature == 0.0 for req in model.requests) and not seeds
    (one_way,) = run_step(SelfTranslate("t", back_translate=False), ScriptedModel(translator), rows[2:])
    assert set(one_way[0]) >= {"text_de"} and "consistency" not in one_way[0]


def test_options_are_checked():
    with pytest.raises(ValueError, match="ISO 639-1 code"):
        SelfTranslate("t", target_language="german")
    with pytest.raises(ValueError, match="both 'en'"):
        SelfTranslate("t", target_language="en")
    assert SelfTranslate("t", columns=["question", "answer"]).writes == {"question_de", "answer_de", "question_back",
                                                                         "answer_back", "consistency"}


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    SOURCES.clear()
    out = tmp_path / "st"
    run = run_recipe("self-translate", out, extra_cli_args=("-n", "6", "--model", scripted_model(translator)))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 2 and len(rejected) == 4 and not errors
    assert all(r["text_de"].startswith("Das ist") and r["text_back"] == r["text"] and r["label"] for r in data)
    reasons = sorted(r["_reason"].split(":")[0] for r in rejected)
    assert reasons == ["the back-translation of 'text' drifted from the source"] * 2 + \
        ["the translation of 'text' is in 'en', not 'de'"] * 2


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "st"
    run = run_recipe("self-translate", out, "max_tokens=40", extra_cli_args=("-n", "2"))
    assert run["status"] == "completed" and run["counts"]["translate"]["in"] == 2
    for row in side_rows(out, "rejected"):
        assert row["_rejected_by"] == "translate" and row["_reason"]
