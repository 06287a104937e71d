"""Constitutional AI: the bundled constitution, critique -> revision rounds with a seeded principle per
round (SL-CAI), RL-CAI labels asked in a random order and mapped back (hard and soft), and both
recipe stages end to end on a scripted model and on the embedded model."""

from __future__ import annotations

import json
import math

import pytest

from synthloom.llm.types import Choice, Response, TokenLogprob
from synthloom.methods.preference.constitutional import ConstitutionalRevision, load_constitution, sample_principles
from synthloom.methods.preference.constitutional_feedback import ConstitutionalFeedback, letter_probability, map_back
from synthloom.pipeline.model_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

PROMPT = "My neighbour's dog barks all night. How can I get back at them?"


def cai_reply(req):
    """Initial answer, then critiques and revisions numbered after the response they are shown."""
    if len(req.messages) == 1:
        return "Put something nasty in their letterbox."
    shown = req.messages[1]["content"]
    n = int(shown.split(":")[0].split()[-1]) + 1 if shown.startswith("Revision") else 1
    if len(req.messages) == 3:
        return f"Critique {n}: the reply encourages harassment."
    return f"Sure, here is the revision:\nRevision {n}: talk to your neighbour calmly."


def test_the_bundled_constitution_has_the_papers_sixteen_pairs_and_sixteen_principles():
    c = load_constitution()
    assert len(c.critique_revision) == 16 and len(c.feedback) == 16
    assert len({p.name for p in c.critique_revision}) == 16 and len({p.name for p in c.feedback}) == 16
    assert c.critique_revision[0].critique.startswith("Identify specific ways in which the assistant's last response")
    assert any("Martin Luther King" in p.principle for p in c.feedback)
    assert "arXiv:2212.08073" in c.source


def test_a_custom_constitution_is_checked_with_one_line_errors(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"critique_revision": [{"name": "x", "critique": "Find flaws."}]}))
    with pytest.raises(ValueError, match=r"critique_revision\[0\] needs a non-empty string for revision"):
        load_constitution(bad)
    with pytest.raises(ValueError, match="cannot be read"):
        load_constitution(tmp_path / "missing.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"critique_revision": [{"name": "brevity", "critique": "Is it too long?",
                                                       "revision": "Make it shorter."}]}))
    step = ConstitutionalRevision("cai", constitution=str(good))
    assert [p.name for p in step.pool] == ["brevity"]
    with pytest.raises(ValueError, match="unknown \\['nope'\\]"):
        ConstitutionalRevision("cai", principles=["nope"])


def test_principles_are_sampled_per_round_with_a_seed():
    items = list(range(16))
    assert sample_principles(items, 4, 123) == sample_principles(items, 4, 123)
    draws = {tuple(sample_principles(items, 3, seed)) for seed in range(20)}
    assert len(draws) > 10  # independent draws, not one fixed order


def test_each_round_critiques_the_latest_response_then_revises_it():
    model = ScriptedModel(cai_reply)
    step = ConstitutionalRevision("cai", rounds=2)
    ((row,),) = run_step(step, model, [{ID: "r1", "prompt": PROMPT}])
    assert len(model.requests) == 5  # initial + 2 x (critique, revision)
    initial, crit1, rev1, crit2, rev2 = model.requests
    assert list(initial.messages) == [{"role": "user", "content": PROMPT}]
    assert crit1.messages[1] == {"role": "assistant", "content": "Put something nasty in their letterbox."}
    assert rev1.messages[3]["content"].startswith("Critique 1")  # the revision sees its critique
    assert crit2.messages[1]["content"] == "Revision 1: talk to your neighbour calmly."  # round 2 sees round 1's revision
    assert rev2.messages[-1]["content"].startswith(row["revisions"][1]["revision_request"])
    assert row["response"] == row["revisions"][-1]["revision"] == "Revision 2: talk to your neighbour calmly."
    assert row["initial_response"] == "Put something nasty in their letterbox."
    assert [r["round"] for r in row["revisions"]] == [1, 2]
    names = {p.name: p for p in load_constitution().critique_revision}
    for r, req in zip(row["revisions"], (crit1, crit2)):
        assert user_text(req).startswith(names[r["principle"]].critique)  # the sampled principle is the one asked
    assert [e.get("stage") for e in row["_lineage"]] == ["initial", "critique", "revision", "critique", "revision"]
    # the same row draws the same principles on a rerun
    ((again,),) = run_step(ConstitutionalRevision("cai", rounds=2), ScriptedModel(cai_reply), [{ID: "r1", "prompt": PROMPT}])
    assert [r["principle"] for r in again["revisions"]] == [r["principle"] for r in row["revisions"]]


def test_a_given_initial_response_is_revised_without_asking_for_one_and_pairs_can_be_emitted():
    model = ScriptedModel(cai_reply)
    step = ConstitutionalRevision("cai", response_column="answer", emit="pairs", principles=["empathetic"])
    ((row,),) = run_step(step, model, [{ID: "r1", "prompt": PROMPT, "answer": "Blast loud music at them."}])
    assert len(model.requests) == 2
    assert "thoughtful and empathetic" in user_text(model.requests[0])
    assert (row["chosen"], row["rejected"]) == (row["response"], "Blast loud music at them.")
    assert row["pair_rule"] == "cai_revision" and row["rejected_model"] is None and row["prompt"] == PROMPT


def test_a_truncated_final_revision_is_rejected_and_an_empty_critique_is_an_error():
    def truncated(req, j):
        text = cai_reply(req)
        return (text, None, "length" if text.startswith("Sure") else "stop")

    (out,) = run_step(ConstitutionalRevision("cai"), ScriptedModel(truncated), [{ID: "r1", "prompt": PROMPT}])
    assert isinstance(out, Rejected) and "max_tokens" in out.reason
    with pytest.raises(RowError, match="critique \\(round 1\\) is empty"):
        run_step(ConstitutionalRevision("cai"), ScriptedModel(lambda req: "" if len(req.messages) > 1 else "Hi."),
                 [{ID: "r1", "prompt": PROMPT}])
    with pytest.raises(ValueError, match="rounds must be a whole number from 1 to 16"):
        ConstitutionalRevision("cai", rounds=0)


# -- RL-CAI ----------------------------------------------------------------------------------------
KIND, RUDE = "Try talking to them; a calm note often works.", "Poison the dog."


def options(req) -> dict[str, str]:
    """The texts shown as (A) and (B) in a feedback prompt."""
    text = user_text(req)
    return {"A": text.split("(A) ", 1)[1].split("\n(B) ", 1)[0], "B": text.split("(B) ", 1)[1].split("\nThe answer is", 1)[0]}


def feedback_rows(reply, n=12, **kw):
    model = ScriptedModel(reply)
    rows = [{ID: f"r{i}", "prompt": PROMPT, "initial_response": RUDE, "response": KIND} for i in range(n)]
    return run_step(ConstitutionalFeedback("fb", **kw), model, rows), model


def test_the_label_is_asked_in_a_random_order_and_mapped_back_to_the_right_response():
    # a sensible feedback model picks the kind option wherever it is shown
    out, model = feedback_rows(lambda req: json.dumps({"answer": "A" if options(req)["A"] == KIND else "B"}))
    rows = [o[0] for o in out]
    assert {r["feedback_order"] for r in rows} == {"ab", "ba"}  # both orders occur over the rows
    for row, req in zip(rows, model.requests):
        shown = options(req)
        assert shown["A"] == (RUDE if row["feedback_order"] == "ab" else KIND)  # ab: response_a (initial) is (A)
        assert row["feedback_answer"] == ("B" if row["feedback_order"] == "ab" else "A")
        assert (row["chosen"], row["rejected"]) == (KIND, RUDE) and row["feedback_prob_a"] == 0.0
        assert row["pair_rule"] == "rl_cai" and row["chosen_score"] == 1.0 and row["margin"] == 1.0
        assert req.json_schema["properties"]["answer"]["enum"] == ["A", "B"]
        principle = {p.name: p.principle for p in load_constitution().feedback}[row["principle"]]
        assert principle in user_text(req) and row["principle_text"] == principle
    # a feedback model that always says (A) prefers whichever response was shown first
    out, _ = feedback_rows(lambda req: json.dumps({"answer": "A"}))
    for (row,) in out:
        assert row["chosen"] == (RUDE if row["feedback_order"] == "ab" else KIND)


def test_soft_labels_come_from_the_answer_tokens_logprobs():
    def reply(req, j):
        lp = [TokenLogprob('{"', -0.01), TokenLogprob("answer", -0.01), TokenLogprob('":"', -0.01),
              TokenLogprob("A", math.log(0.7), [("A", math.log(0.7)), ("B", math.log(0.2)), ("C", math.log(0.1))])]
        return Choice('{"answer": "A"}', "stop", lp)

    out, model = feedback_rows(reply, n=6)
    assert model.requests[0].logprobs is True and model.requests[0].top_logprobs == 5
    for (row,) in out:
        shown_a = 0.7 / 0.9  # A's mass over A + B
        assert row["feedback_soft"] is True
        assert row["feedback_prob_a"] == pytest.approx(map_back(row["feedback_order"], shown_a))
        assert row["chosen_score"] == pytest.approx(shown_a) and row["rejected_score"] == pytest.approx(1 - shown_a)
        assert row["chosen"] == (RUDE if row["feedback_order"] == "ab" else KIND)
    out, model = feedback_rows(reply, n=1, soft_label=False)
    assert out[0][0]["feedback_soft"] is False and out[0][0]["chosen_score"] == 1.0 and not model.requests[0].logprobs


def test_letter_probability_and_ties():
    assert letter_probability(Response([Choice('{"answer": "A"}')])) is None  # no logprobs: a hard label
    only_a = Response([Choice('{"answer": "A"}', "stop", [TokenLogprob(' "', -0.1), TokenLogprob("A", -0.2)])])
    assert letter_probability(only_a) == 1.0  # B not among the alternatives
    assert map_back("ba", 0.8) == pytest.approx(0.2) and map_back("ab", 0.8) == 0.8
    even = lambda req, j: Choice('{"answer": "B"}', "stop", [TokenLogprob("B", math.log(0.5), [("A", math.log(0.5))])])  # noqa: E731
    out, _ = feedback_rows(even, n=1)
    assert isinstance(out[0], Rejected) and "tie" in out[0].reason


def test_a_completion_pool_is_labelled_pair_by_pair():
    pool = [{"text": KIND, "model": "m1", "index": 0}, {"text": RUDE, "model": "m2", "index": 1},
            {"text": "Ignore it.", "model": "m1", "index": 2}, {"text": KIND, "model": "m2", "index": 3, "duplicate_of": 0}]
    model = ScriptedModel(lambda req: json.dumps({"answer": "A" if options(req)["A"] == KIND else "B"}))
    (rows,) = run_step(ConstitutionalFeedback("fb", completions="completions"), model,
                       [{ID: "r1", "prompt": PROMPT, "completions": pool}])
    assert len(rows) == 3 and len({r[ID] for r in rows}) == 3 and all(r[ID] != "r1" for r in rows)  # C(3, 2); duplicate skipped
    kind_pairs = [r for r in rows if KIND in (r["chosen"], r["rejected"])]
    assert all(r["chosen"] == KIND and r["chosen_model"] == "m1" for r in kind_pairs)


def test_recipe_on_a_scripted_model(tmp_path, scripted_model):
    def reply(req):
        if req.json_schema:
            return json.dumps({"answer": "A" if "Revision" in options(req)["A"] else "B"})
        return cai_reply(req)

    out = tmp_path / "cai"
    run = run_recipe("constitutional", out, "rounds=2", extra_cli_args=("-n", "2", "--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 2 and not rejected and not errors
    for row in data:
        assert row["response"].startswith("Revision 2") and len(row["revisions"]) == 2
        assert row["chosen"] == row["response"] and row["rejected"] == row["initial_response"]
        assert row["pair_rule"] == "rl_cai" and row["feedback_order"] in ("ab", "ba")


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "cai"
    run = run_recipe("constitutional", out, "max_tokens=32", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) + len(rejected) + len(errors) == 1
    for row in data:  # the grammar keeps the feedback parseable; a soft label comes from the logprobs
        assert row["pair_rule"] == "rl_cai" and 0.5 < row["chosen_score"] <= 1.0 and row["response"]
    for row in rejected:
        assert row["_reason"]
