"""Arena Learning: position-swap agreement (agree -> win, disagree -> tie), pairings, per-model system
prompts and sampling, the SFT and DPO products with their thresholds, the ratings table written
after a run, and the recipe end to end on a scripted model and on the embedded model."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.preference.arena import ArenaBattles, battle_winner, game_winner
from synthloom.methods.preference.arena_data import ArenaData, ArenaRatings, battle_rows
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

QUALITY = {"weak": 2, "mid": 5, "strong": 9}


def answers_shown(req) -> tuple[str, str]:
    text = user_text(req)
    one = text.split("[The Start of Assistant 1's Answer]\n", 1)[1].split("\n[The End", 1)[0]
    two = text.split("[The Start of Assistant 2's Answer]\n", 1)[1].split("\n[The End", 1)[0]
    return one, two


def arena_reply(req):
    """Models answer with their name; a fair judge scores each answer by its model's quality."""
    if req.json_schema:
        one, two = answers_shown(req)
        return json.dumps({"score_1": QUALITY[one.split()[-1]], "score_2": QUALITY[two.split()[-1]], "explanation": "ok"})
    system = req.messages[0]["content"] if req.messages[0]["role"] == "system" else ""
    return f"answer from {system.split()[-1]}"


SYSTEMS = {m: f"You are {m}" for m in QUALITY}


def battles(reply, models=("weak", "mid", "strong"), **kw):
    model = ScriptedModel(reply)
    step = ArenaBattles("arena", models=list(models), systems={m: SYSTEMS[m] for m in models}, **kw)
    (rows,) = run_step(step, model, [{ID: "p1", "prompt": "Name a colour."}])
    return rows, model


def test_a_battle_counts_only_when_both_orders_agree():
    assert game_winner(8, 3) == "a" and game_winner(3, 8) == "b" and game_winner(5, 5) == "tie"
    assert battle_winner(["a", "a"]) == "a" and battle_winner(["b", "b"]) == "b"
    assert battle_winner(["a", "b"]) == "tie" and battle_winner(["tie", "a"]) == "tie" and battle_winner(["tie", "tie"]) == "tie"
    assert battle_winner(["b"]) == "b"  # one game (swap: false)


def test_every_pair_battles_in_both_orders_and_a_fair_judge_decides_each():
    rows, model = battles(arena_reply)
    assert [(r["model_a"], r["model_b"]) for r in rows] == [("weak", "mid"), ("weak", "strong"), ("mid", "strong")]
    assert len({r[ID] for r in rows}) == 3
    judge_requests = [r for r in model.requests if r.json_schema]
    assert len(judge_requests) == 6 and all(r.temperature == 0.0 for r in judge_requests)
    for row in rows:
        assert [g["order"] for g in row["games"]] == ["ab", "ba"]
        assert row["winner"] == "b" and row["winner_model"] == row["model_b"]  # the stronger model is listed second
        assert row["score_b"] - row["score_a"] == QUALITY[row["model_b"]] - QUALITY[row["model_a"]]
        assert row["response_a"] == f"answer from {row['model_a']}"
        steps = [e for e in row["_lineage"] if "order" in e]
        assert len(steps) == 2 and all(e["parent"] == "p1" for e in row["_lineage"])


def test_a_judge_that_prefers_the_first_position_makes_every_battle_a_tie():
    def biased(req):
        if req.json_schema:
            return json.dumps({"score_1": 9, "score_2": 2, "explanation": "the first is better"})
        return arena_reply(req)

    rows, _ = battles(biased)
    assert {r["winner"] for r in rows} == {"tie"} and all(r["winner_model"] is None for r in rows)
    assert all([g["winner"] for g in r["games"]] == ["a", "b"] for r in rows)
    one_game, _ = battles(biased, swap=False)  # without the swap the position bias decides
    assert {r["winner"] for r in one_game} == {"a"}


def test_target_pairing_system_prompts_and_per_model_sampling():
    rows, model = battles(arena_reply, pairing="target", target="mid", model_sampling={"weak": {"temperature": 1.2}},
                          temperature=0.5)
    assert [(r["model_a"], r["model_b"]) for r in rows] == [("mid", "weak"), ("mid", "strong")]
    answers = {r.messages[0]["content"].split()[-1]: r for r in model.requests if not r.json_schema}
    assert answers["weak"].temperature == 1.2 and answers["strong"].temperature == 0.5
    assert answers["mid"].messages[0] == {"role": "system", "content": "You are mid"}


def test_a_completion_pool_is_battled_without_asking_for_answers():
    pool = [{"text": "answer from weak", "model": "weak"}, {"text": "answer from strong", "model": "strong"},
            {"text": "another from strong", "model": "strong"}]
    model = ScriptedModel(arena_reply)
    (rows,) = run_step(ArenaBattles("arena", completions="completions"), model,
                       [{ID: "p1", "prompt": "Name a colour.", "completions": pool}])
    assert len(rows) == 1 and rows[0]["winner_model"] == "strong" and all(r.json_schema for r in model.requests)


def test_options_are_checked():
    with pytest.raises(ValueError, match="at least two models"):
        ArenaBattles("a", models=["one"])
    with pytest.raises(ValueError, match="pairing 'target' needs `target:`"):
        ArenaBattles("a", models=["x", "y"], pairing="target")
    with pytest.raises(ValueError, match="model_sampling.x has option"):
        ArenaBattles("a", models=["x", "y"], model_sampling={"x": {"n": 2}})
    with pytest.raises(ValueError, match=r"systems names \['z'\], not in models"):
        ArenaBattles("a", models=["x", "y"], systems={"z": "Be brief."})
    with pytest.raises(ValueError, match="emit 'sft' needs `target:`"):
        ArenaData("d")


def battle(a, b, score_a, score_b, winner):
    return {ID: f"{a}-{b}", "prompt": "Name a colour.", "system": None, "model_a": a, "model_b": b,
            "response_a": f"answer from {a}", "response_b": f"answer from {b}", "score_a": score_a, "score_b": score_b,
            "winner": winner, "winner_model": {"a": a, "b": b}.get(winner)}


def test_sft_rows_are_the_winners_answers_where_the_target_lost_by_the_gap():
    step = ArenaData("d", target="mid")
    assert step.min_gap == 3.0  # the paper's best SFT threshold
    rows = [battle("mid", "strong", 4, 9, "b"), battle("mid", "weak", 8, 2, "a"), battle("mid", "strong", 5, 7, "b"),
            battle("weak", "strong", 2, 9, "b"), battle("mid", "strong", 5, 5.5, "tie")]
    kept, won, small, absent, tie = run_step(step, None, rows)
    assert kept[0]["response"] == "answer from strong" and kept[0]["response_model"] == "strong"
    assert isinstance(won, Rejected) and "won" in won.reason
    assert isinstance(small, Rejected) and "score gap 2 (7 to 5) is below min_gap 3" in small.reason
    assert isinstance(absent, Rejected) and "did not fight" in absent.reason
    assert isinstance(tie, Rejected) and "tie" in tie.reason


def test_dpo_pairs_are_every_decided_battle_with_the_winner_chosen():
    step = ArenaData("d", emit="pairs")
    assert step.min_gap == 2.0  # the paper's best DPO threshold
    (pair,), small, tie = run_step(step, None, [battle("mid", "strong", 4, 9, "b"), battle("weak", "mid", 4, 5, "b"),
                                               battle("weak", "mid", 4, 4, "tie")])
    assert (pair["chosen"], pair["rejected"]) == ("answer from strong", "answer from mid")
    assert (pair["chosen_model"], pair["rejected_model"], pair["margin"], pair["pair_rule"]) == ("strong", "mid", 5.0, "arena_winner")
    assert pair["prompt"] == "Name a colour." and isinstance(small, Rejected) and isinstance(tie, Rejected)


def test_recipe_on_a_scripted_model_writes_sft_rows_and_the_ratings(tmp_path, scripted_model):
    def reply(req):
        if req.json_schema:  # the competitor's careful answer always scores higher, in either position
            one, two = answers_shown(req)
            return json.dumps({"score_1": 9 if "careful" in one else 3, "score_2": 9 if "careful" in two else 3,
                               "explanation": "the careful answer is better"})
        return "A careful answer." if "careful expert" in req.messages[0]["content"] else "Meh."

    spec = scripted_model(reply)
    out = tmp_path / "arena"
    run = run_recipe("arena", out, f"target_model={spec}", f"competitor_model={spec}",
                     extra_cli_args=("-n", "3", "--model", spec))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) == 3 and not rejected and not errors
    assert all(r["response"] == "A careful answer." and r["response_model"] == "competitor" for r in data)
    ratings = json.loads((out / "arena_ratings.json").read_text())
    assert ratings["battles"] == 3 and ratings["ties"] == 0
    top, bottom = ratings["models"]
    assert (top["model"], top["wins"], bottom["model"], bottom["losses"]) == ("competitor", 3, "target", 3)
    assert top["bradley_terry"]["rating"] > bottom["bradley_terry"]["rating"]
    assert len(battle_rows(out)) == 3


def test_ratings_count_rejected_battles_too(tmp_path, scripted_model):
    def reply(req):  # a judge with a position bias: every battle is a tie, every row rejected
        if req.json_schema:
            return json.dumps({"score_1": 8, "score_2": 2, "explanation": "first"})
        return "An answer."

    spec = scripted_model(reply)
    out = tmp_path / "arena"
    run = run_recipe("arena", out, f"target_model={spec}", f"competitor_model={spec}", "product=pairs",
                     extra_cli_args=("-n", "2", "--model", spec))
    data, rejected, _ = completed_outputs(run, out)
    assert not data and len(rejected) == 2 and all("tie" in r["_reason"] for r in rejected)
    ratings = json.loads((out / "arena_ratings.json").read_text())
    assert ratings["battles"] == 2 and ratings["ties"] == 2
    assert ArenaRatings("r", anchor="target", anchor_rating=1100).table(out)["models"][0]["bradley_terry"]["rating"] == 1100


@needs_embedded
def test_recipe_end_to_end_on_the_embedded_model(tmp_path):
    out = tmp_path / "arena"
    run = run_recipe("arena", out, "max_tokens=32", "judge_max_tokens=48", "min_gap=0", "product=pairs",
                     extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    assert len(data) + len(rejected) == 1 and not errors  # the grammar keeps the judge's scores parseable
    battle_row = (data + rejected)[0]
    assert {g["order"] for g in battle_row["games"]} == {"ab", "ba"}
    assert all(1 <= g["score_a"] <= 10 and 1 <= g["score_b"] <= 10 for g in battle_row["games"])
    ratings = json.loads((out / "arena_ratings.json").read_text())
    assert ratings["battles"] == 1 and {m["model"] for m in ratings["models"]} == {"target", "competitor"}


def test_a_multi_turn_prompt_is_answered_and_judged_as_a_conversation():
    conv = [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Name a colour."}]
    model = ScriptedModel(arena_reply)
    step = ArenaBattles("arena", models=["weak", "strong"], systems={m: SYSTEMS[m] for m in ("weak", "strong")},
                        prompt_messages="conversation")
    ((row,),) = run_step(step, model, [{ID: "p1", "conversation": conv}])
    answer = next(r for r in model.requests if not r.json_schema)
    assert [m["role"] for m in answer.messages] == ["system", "user", "assistant", "user"]
    judge = next(r for r in model.requests if r.json_schema)
    assert "User: Hi!\n\nAssistant: Hello.\n\nUser: Name a colour." in user_text(judge)
    assert row["prompt"] == "Name a colour." and row["prompt_messages"] == conv and row["winner_model"] == "strong"
