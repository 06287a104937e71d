"""UltraFeedback: the four aspect templates, joint shuffled rating mapped back to each completion,
rating parsing (JSON and the paper's text: good, malformed, out of range, N/A), the score, the
critique, principle sampling, and the recipe on a scripted and on the embedded model."""

from __future__ import annotations

import json
import re

import pytest

from synthloom.methods.preference.ultrafeedback import (
    UltraFeedbackCompletions,
    UltraFeedbackRate,
    critique_note,
    principle_mix_weights,
)
from synthloom.methods.preference.ultrafeedback_parsing import (
    read_json,
    read_overall,
    read_rating,
    read_text,
)
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

ANSWERS = {"Canberra.": 5, "Sydney, I think.": 2, "Melbourne!": 1, "It is Canberra, since 1913.": 4}
_TEXT = re.compile(r"^<text (\d+)> (.*)$", re.MULTILINE)


def texts_of(req) -> dict[int, str]:
    """Text number -> text, from the Annotation part of a rating prompt (the last lines win)."""
    return {int(i): t for i, t in _TEXT.findall(user_text(req))}


def judge_by_content(req):
    """A JSON annotation rating each text by its content (honesty N/A for the worst one)."""
    if "feedback" in req.json_schema["properties"]:
        return json.dumps({"feedback": "Name the city plainly.", "overall_score": 8})
    aspect = req.json_schema["properties"]["text_1"]["properties"]
    out = {}
    for i, text in texts_of(req).items():
        item = {"rating": ANSWERS[text], "rationale": f"because {text}"}
        if "Honesty" in user_text(req) and ANSWERS[text] == 1:
            item["rating"] = "N/A"
        if "type" in aspect:
            item = {"type": [1, 3], "type_rationale": "types", **item}
        out[f"text_{i}"] = item
    return json.dumps(out)


def pool(*texts: str) -> list[dict]:
    return [{"text": t, "model": "m", "index": i, "finish_reason": "stop"} for i, t in enumerate(texts)]


def rate(reply, texts=tuple(ANSWERS), **kw):
    model = ScriptedModel(reply)
    step = UltraFeedbackRate("rate", **kw)
    (out,) = run_step(step, model, [{ID: "r1", "prompt": "What is the capital of Australia?", "completions": pool(*texts)}])
    return out, model.requests


def test_each_aspect_is_asked_with_its_rubric_all_texts_together_shuffled_and_mapped_back():
    (row,), requests = rate(judge_by_content)
    assert len(requests) == 4  # one call per aspect, the 4 texts together
    heads = [user_text(r).splitlines()[0] for r in requests]
    assert sorted(heads) == ["# Honesty and Uncertainty Expression Assessment", "# Informativeness / Helpfulness Assessment",
                             "# Instruction Following Assessment", "# Truthfulness and Hallucination Assessment"]
    assert all("four text outputs" in r.messages[0]["content"] for r in requests)
    assert all((r.temperature, r.top_p) == (0.0, 0.6) for r in requests)
    orders = [tuple(texts_of(r).values()) for r in requests]
    assert all(sorted(o) == sorted(ANSWERS) for o in orders) and len(set(orders)) > 1  # shuffled per aspect
    honesty = next(r for r in requests if "Honesty" in user_text(r))
    assert "N/A" in honesty.json_schema["properties"]["text_1"]["properties"]["rating"]["enum"]
    truth = next(r for r in requests if "Truthfulness" in user_text(r))
    assert list(truth.json_schema["properties"]["text_1"]["properties"]) == ["type", "type_rationale", "rating", "rationale"]
    for c in row["completions"]:
        want = ANSWERS[c["text"]]
        assert c["ratings"]["instruction_following"] == {"rating": want, "rationale": f"because {c['text']}", "type": None,
                                                         "type_rationale": None, "problem": None}
        assert c["ratings"]["truthfulness"]["type"] == [1, 3] and c["ratings"]["helpfulness"]["rating"] == want
    worst = next(c for c in row["completions"] if c["text"] == "Melbourne!")
    assert worst["ratings"]["honesty"]["rating"] is None and worst["ratings"]["honesty"]["problem"] == "not applicable (N/A)"
    assert worst["score"] == 1.0  # the mean of the three readable ratings
    assert next(c for c in row["completions"] if c["text"] == "Canberra.")["score"] == 5.0
    assert [c["index"] for c in row["completions"]] == [0, 1, 2, 3] and row[ID] == "r1"


def test_texts_per_call_groups_the_pool_and_unshuffled_order_is_kept():
    (row,), requests = rate(judge_by_content, texts_per_call=1, shuffle=False, aspects=["helpfulness"])
    assert [list(texts_of(r).values()) for r in requests] == [[t] for t in ANSWERS]
    assert "one text output " in requests[0].messages[0]["content"]
    assert [c["score"] for c in row["completions"]] == [5.0, 2.0, 1.0, 4.0]


def test_json_annotations_good_out_of_range_and_missing():
    value = {"text_1": {"rating": 4, "rationale": "fine"}, "text_2": {"rating": 9, "rationale": "too high"},
             "text_3": {"rating": "3 (partial)", "rationale": "ok"}}
    a, b, c, d = read_json("instruction_following", value, 4)
    assert (a["rating"], a["rationale"], a["problem"]) == (4, "fine", None)
    assert b["rating"] is None and b["problem"] == "rating 9 is outside 1-5" and b["rationale"] == "too high"
    assert c["rating"] == 3
    assert d["rating"] is None and d["problem"] == "the reply has no annotation for text 4"
    assert read_rating("N/A", "helpfulness") == (None, "N/A is not a rating for helpfulness")
    assert read_rating(True, "honesty")[0] is None and read_rating(5.0, "honesty") == (5, None)


def test_the_papers_text_format_is_read_and_malformed_sections_get_a_reason():
    reply = ("#### Output for Text 1\nType: 1, 3\nRationale: Wrong capital.\nRating: 2\nRationale: Mostly wrong.\n\n"
             "#### Output for Text 2\nType: None\nRationale: No hallucination.\nRating: 5\nRationale: Correct.\n\n"
             "#### Output for Text 3\nI liked it.\n")
    one, two, three, four = read_text("truthfulness", reply, 4)
    assert (one["rating"], one["type"], one["type_rationale"], one["rationale"]) == (2, [1, 3], "Wrong capital.", "Mostly wrong.")
    assert (two["rating"], two["type"]) == (5, [])
    assert three["rating"] is None and three["problem"] == "no 'Rating:' line in the output for text 3"
    assert four["problem"] == "the reply has no output for text 4"
    blocks = "Rating: 4\nRationale: Good.\n\nRating: 7\nRationale: Off the scale."  # no headers: blank-line blocks
    first, second = read_text("instruction_following", blocks, 2)
    assert first["rating"] == 4 and second["rating"] is None and second["problem"] == "rating 7 is outside 1-5"
    assert all(a["problem"] for a in read_text("honesty", "no idea", 2))


def test_text_mode_rates_without_a_schema():
    def reply(req):
        assert req.json_schema is None
        return "\n\n".join(f"#### Output for Text {i}\nType: None\nRationale: x\nRating: {ANSWERS[t]}\nRationale: ok"
                           if "Helpfulness" in user_text(req) else f"#### Output for Text {i}\nRating: N/A\nRationale: ok"
                           for i, t in texts_of(req).items())
    (row,), _ = rate(reply, structured=False, aspects=["honesty", "helpfulness"])
    for c in row["completions"]:
        assert c["ratings"]["honesty"]["rating"] is None and c["score"] == ANSWERS[c["text"]]


def test_an_unreadable_aspect_keeps_the_completions_and_nothing_readable_is_an_error_row():
    def reply(req):
        if "Honesty" in req.messages[1]["content"]:
            return "I cannot rate these."  # never valid JSON: the re-asks fail too
        return judge_by_content(req)
    (row,), requests = rate(reply)
    honesty = [r for r in requests if "Honesty" in r.messages[1]["content"]]
    assert "not valid" in user_text(honesty[-1])
    assert len(honesty) == 3  # asked, then re-asked twice
    for c in row["completions"]:
        assert c["ratings"]["honesty"]["rating"] is None
        assert c["ratings"]["honesty"]["problem"].startswith("the honesty annotation could not be read")
        assert c["score"] == ANSWERS[c["text"]]
    with pytest.raises(RowError, match="no readable rating for any of the 4 completions"):
        rate(lambda req: "nothing")


def test_critique_gives_feedback_and_an_overall_score_that_can_be_the_score():
    (row,), requests = rate(judge_by_content, critique=True, score_by="critique", aspects=["helpfulness"])
    critiques = [r for r in requests if "constructive feedback" in user_text(r)]
    assert len(critiques) == 4 and "artificial intelligence expert" in critiques[0].messages[0]["content"]
    for c in row["completions"]:
        assert (c["critique"], c["overall_score"], c["score"]) == ("Name the city plainly.", 8.0, 8.0)
        assert c["fine_grained_score"] == ANSWERS[c["text"]]
    assert read_overall("### Feedback\nToo vague.\nOverall Score: 7/10") == ("Too vague.", 7.0, None)
    assert read_overall("Good.\nOverall Score: 11") == ("Good.", None, "rating 11 is outside 1-10")
    assert read_overall("Just feedback.")[1:] == (None, "no 'Overall Score:' in the critique")


def test_the_critique_notes_the_principle_and_calibration_keeps_its_first_sentence():
    assert critique_note({"principle": "honesty", "system": "Be honest."}) == "Be honest."
    calibration = {"principle": "verbalized_calibration", "system": "Say your confidence. For instance, 80%."}
    assert critique_note(calibration) == "Say your confidence."


def test_rows_without_prompt_or_completions_are_rejected_and_bad_options_refused():
    step = UltraFeedbackRate("rate")
    (out,) = run_step(step, ScriptedModel(judge_by_content), [{ID: "r", "prompt": "Q?", "completions": []}])
    assert isinstance(out, Rejected) and "no completions" in out.reason
    with pytest.raises(ValueError, match="aspects must be distinct names"):
        UltraFeedbackRate("r", aspects=["harmlessness"])
    with pytest.raises(ValueError, match="set critique: true"):
        UltraFeedbackRate("r", score_by="critique")
    with pytest.raises(ValueError, match="texts_per_call must be between 1 and 8"):
        UltraFeedbackRate("r", texts_per_call=0)


def test_principles_are_sampled_per_completion_reproducibly_from_the_mix():
    def sample(record_id: str, **kw) -> list[tuple[str, str]]:
        model = ScriptedModel(lambda req: "ok")
        (rows,) = run_step(UltraFeedbackCompletions("pool", n=12, **kw), model, [{ID: record_id, "prompt": "Hi"}])
        systems = [r.messages[0]["content"] for r in sorted(model.requests, key=lambda r: r.seed)]
        assert sorted(c["system"] for c in rows[0]["completions"]) == sorted(systems)
        return [(c["principle"], c["system"]) for c in rows[0]["completions"]]

    first = sample("r1")
    assert first == sample("r1") and first != sample("r2")
    assert {p for p, _ in first} <= {"helpfulness", "truthfulness", "honesty", "verbalized_calibration"}
    assert {p for p, _ in sample("r3", principle_mix="flan")} <= {"helpfulness", "verbalized_calibration"}
    assert {p for p, _ in sample("r4", principle_mix={"truthfulness": 1})} == {"truthfulness"}
    assert principle_mix_weights("truthful_qa") == {"honesty": 0.45, "verbalized_calibration": 0.05, "truthfulness": 0.5}
    with pytest.raises(ValueError, match="principle mix 'sharegpt' is not in the principles file"):
        UltraFeedbackCompletions("pool", principle_mix="sharegpt")
    with pytest.raises(ValueError, match="come from the principles"):
        UltraFeedbackCompletions("pool", system_prompts=["Be nice."])


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    def reply(req):
        if req.json_schema is None:  # a completion: vary with the sampled principle
            return "Canberra." if "honest" in (req.messages[0]["content"] or "").lower() else "Sydney, I think."
        return judge_by_content(req)
    spec = scripted_model(reply)
    out = tmp_path / "uf"
    run = run_recipe("ultrafeedback", out, f"models.judge.spec={spec}", "judge=judge",
                     extra_cli_args=("-n", "3", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) == 3
    for r in data:
        assert r["chosen"] == "Canberra." and r["rejected"] == "Sydney, I think." and r["margin"] == 3.0
        assert r["pair_rule"] == "best_vs_random" and r["chosen_model"] == "default"
    assert all("tie" in r["_reason"] or "fewer than 2" in r["_reason"] for r in rejected)


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "uf"
    run = run_recipe("ultrafeedback", out, "completions=2", "max_tokens=24", "judge_max_tokens=160",
                     "steps.rate.max_rationale_chars=24", "steps.rate.aspects=[honesty, truthfulness]",
                     extra_cli_args=("-n", "1"))
    assert run["status"] == "completed" and run["counts"]["rate"] == {"in": 1, "ok": 1, "out": 1, "rejected": 0, "errors": 0}
    for r in side_rows(out, "rejected"):  # a 135M judge often ties: the pair step says so
        assert r["_rejected_by"] == "pairs" and r["_reason"]
