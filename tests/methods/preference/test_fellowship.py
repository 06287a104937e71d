"""Fellowship of the LLMs: judge, jury and debate scores from one panel, their aggregation and ties,
the pairs made from them, the side-by-side agreement report, and the recipe end to end."""

from __future__ import annotations

import json
import re

import pytest

from synthloom.methods.preference.fellowship import FellowshipEvaluate, aggregate_scores, pick_pair
from synthloom.methods.preference.fellowship_report import agreement_table, config_rows
from synthloom.methods.preference.pairs import Pairs
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step

PERSONAS = ["seat one", "seat two", "seat three"]
ROW = {"id": "r1", "prompt": "Name a prime.", "completions": [
    {"text": "A", "model": "default", "index": 0}, {"text": "B", "model": "default", "index": 1},
    {"text": "C", "model": "default", "index": 2}]}


def shown(req) -> list[str]:
    """The responses in the order the evaluator was shown them."""
    first = next(m["content"] for m in req.messages if m["role"] == "user")
    return re.findall(r"\[Response \d+\]\n(.*?)\n\[End of Response", first, re.S)


def panel(independent: dict[str, dict[str, int]], debate: dict[str, dict[str, int]] | None = None, bad: set[str] = frozenset()):
    """Seat (by persona) → scores per response text; ``debate`` the scores after a debate turn; a
    seat in ``bad`` answers with no JSON."""
    def reply(req):
        seat = req.messages[0]["content"] if req.messages[0]["role"] == "system" else PERSONAS[0]
        if seat in bad:
            return "I refuse to score."
        in_debate = req.messages[-1]["content"].startswith("Other evaluators")
        table = (debate or independent)[seat] if in_debate else independent[seat]
        return json.dumps({"reasoning": "compared", **{f"score_{i + 1}": table[t] for i, t in enumerate(shown(req))}})
    return reply


SCORES = {"seat one": {"A": 9, "B": 5, "C": 1}, "seat two": {"A": 2, "B": 8, "C": 2}, "seat three": {"A": 3, "B": 7, "C": 3}}
AFTER = {s: {"A": 4, "B": 9, "C": 4} for s in PERSONAS}


def evaluate(reply, **kw):
    step = FellowshipEvaluate("evaluate", evaluator_personas=PERSONAS, **kw)
    model = ScriptedModel(reply)
    [out] = run_step(step, model, [ROW])
    return out, model


def test_judge_jury_and_debate_come_from_one_panel_with_known_scores():
    [row], model = evaluate(panel(SCORES, AFTER), aggregate="mean")
    by_text = {c["text"]: c for c in row["completions"]}
    assert {t: c["config_scores"]["judge"] for t, c in by_text.items()} == {"A": 9.0, "B": 5.0, "C": 1.0}
    assert by_text["A"]["config_scores"]["jury"] == pytest.approx(14 / 3) and by_text["C"]["config_scores"]["jury"] == 2.0
    assert [c["score"] for c in row["completions"]] == [c["config_scores"]["jury"] for c in row["completions"]]
    assert by_text["B"]["evaluator_scores"] == {"default#1": [5.0, 9.0], "default#2": [8.0, 9.0], "default#3": [7.0, 9.0]}
    assert row["config_pairs"]["judge"] == {"chosen": 0, "rejected": 2, "margin": 8.0}
    assert row["config_pairs"]["jury"] == {"chosen": 1, "rejected": 2, "margin": pytest.approx(20 / 3 - 2)}
    # after the debate A and C tie at the bottom: the first in pool order is the rejected one
    assert row["config_pairs"]["debate"] == {"chosen": 1, "rejected": 0, "margin": 5.0}
    assert len(model.requests) == 3 * 2 and row["evaluated_id"] == "r1"
    assert [(e["evaluator"], e["round"]) for e in row["evaluations"]][:3] == [("default#1", 0), ("default#2", 0), ("default#3", 0)]
    debate_turn = model.requests[-1].messages[-1]["content"]
    assert debate_turn.startswith("Other evaluators") and debate_turn.count("Reasoning: compared") == 2
    [pair] = run_step(Pairs("pairs", rule="best_vs_worst"), ScriptedModel(lambda r: ""), [row])[0]
    assert (pair["chosen"], pair["rejected"]) == ("B", "C")


def test_majority_aggregation_and_the_config_that_sets_score():
    [row], _ = evaluate(panel(SCORES), aggregate="majority", config="judge", configs=["judge", "jury"])
    by_text = {c["text"]: c for c in row["completions"]}
    # majority of all-different values goes to the lowest; [2, 2, 3]-style repeats win
    assert {t: c["config_scores"]["jury"] for t, c in by_text.items()} == {"A": 2.0, "B": 5.0, "C": 1.0}
    assert {t: c["score"] for t, c in by_text.items()} == {"A": 9.0, "B": 5.0, "C": 1.0}
    assert "debate" not in row["config_pairs"] and row["config_pairs"]["jury"]["chosen"] == 1
    assert aggregate_scores([[2.0, None], [2.0, None], [3.0, 4.0]], "majority") == [2.0, 4.0]
    assert aggregate_scores([[None], [None]], "mean") == [None]


def test_a_tie_makes_no_pair_and_the_pairs_step_rejects_it():
    flat = {s: {"A": 6, "B": 6, "C": 6} for s in PERSONAS}
    [row], _ = evaluate(panel(flat, flat))
    assert row["config_pairs"] == {"judge": None, "jury": None, "debate": None}
    [out] = run_step(Pairs("pairs", rule="best_vs_worst"), ScriptedModel(lambda r: ""), [row])
    assert isinstance(out, Rejected) and out.reason.startswith("tie: all 3 scored completions")
    assert pick_pair([5.0, None, 5.0]) is None and pick_pair([7.0, 3.0, 9.0], usable=[True, True, False]) == {
        "chosen": 0, "rejected": 1, "margin": 4.0}


def test_a_judge_alone_asks_one_seat_and_unreadable_seats_are_left_out():
    [row], model = evaluate(panel(SCORES), configs=["judge"], config="judge")
    assert len(model.requests) == 1 and list(row["config_pairs"]) == ["judge"]
    [row], _ = evaluate(panel(SCORES, bad={"seat two"}), configs=["jury"])
    assert {c["text"]: c["score"] for c in row["completions"]} == {"A": 6.0, "B": 6.0, "C": 2.0}
    assert [e["scores"] is None for e in row["evaluations"]] == [False, True, False]
    with pytest.raises(RowError, match="no evaluator gave readable scores in round 0"):
        evaluate(panel(SCORES, bad=set(PERSONAS)), configs=["jury"])


def test_options_that_cannot_work_name_the_fix():
    with pytest.raises(ValueError, match="need at least 2 evaluator seats"):
        FellowshipEvaluate("e")
    with pytest.raises(ValueError, match="config 'debate'"):
        FellowshipEvaluate("e", evaluators=["a", "b"], config="debate", configs=["judge", "jury"])
    with pytest.raises(ValueError, match="aggregate must be one of"):
        FellowshipEvaluate("e", evaluators=["a", "b"], aggregate="vote")
    assert isinstance(run_step(FellowshipEvaluate("e", configs=["judge"], config="judge"), ScriptedModel(lambda r: ""),
                               [{"id": "x", "prompt": "p", "completions": [{"text": "only"}]}])[0], Rejected)


def test_agreement_table_counts_pairs_ties_and_shared_picks():
    rows = [{"judge": {"chosen": 0, "rejected": 2, "margin": 8.0}, "jury": {"chosen": 0, "rejected": 2, "margin": 3.0}},
            {"judge": {"chosen": 1, "rejected": 2, "margin": 1.0}, "jury": {"chosen": 0, "rejected": 2, "margin": 1.0}},
            {"judge": None, "jury": {"chosen": 1, "rejected": 0, "margin": 2.0}}]
    table = agreement_table(rows)
    assert table["configs"] == {"judge": {"prompts": 3, "pairs": 2, "ties": 1}, "jury": {"prompts": 3, "pairs": 3, "ties": 0}}
    assert table["agreement"]["judge~jury"] == {"both": 2, "same_chosen": 1, "same_rejected": 2, "same_pair": 1,
                                                "pair_agreement": 0.5}


def test_recipe_on_a_scripted_model_writes_pairs_and_the_agreement(tmp_path, scripted_model):
    quality = {"concise": 3, "careful expert": 9, "friendly teacher": 6}

    def reply(req):
        if req.json_schema:
            return json.dumps({"reasoning": "r", **{f"score_{i + 1}": quality[t] for i, t in enumerate(shown(req))}})
        system = req.messages[0]["content"]
        return next(k for k in quality if k in system)

    spec = scripted_model(reply)
    out = tmp_path / "fellowship"
    run = run_recipe("fellowship", out, extra_cli_args=("-n", "2", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) == 2
    report = json.loads((out / "fellowship_agreement.json").read_text())
    assert report["prompts"] == 2 and set(report["configs"]) == {"judge", "jury", "debate"}
    for r in data:
        assert r["chosen"] == "careful expert" and r["rejected"] != "careful expert"
        assert r["config_pairs"]["jury"]["chosen"] == r["chosen_index"]
    assert sum(1 for _ in config_rows(out)) == 2


@pytest.mark.slow
@needs_embedded
def test_fellowship_recipe_on_the_embedded_model(tmp_path):
    out = tmp_path / "fellowship"
    run = run_recipe("fellowship", out, "max_tokens=24", "judge_max_tokens=64", "steps.evaluate.max_reason_chars=40",
                     "steps.generate.sampling_settings=[{temperature: 0.3}, {temperature: 1.0}]",
                     "steps.evaluate.evaluator_personas=[You are strict., You are kind.]", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) + len(rejected) + len(errors) == 1
    for r in rejected:
        assert r["_reason"]
    report = json.loads((out / "fellowship_agreement.json").read_text())
    assert report["prompts"] == len(data) + sum(1 for r in rejected if r.get("config_pairs") is not None)
