"""CAMEL role-playing on a scripted model: the task specifier and the inception prompts, every termination
rule (the done token kept, max turns kept and marked, a cut message, a role flip either way, an exact and a
near-duplicate repeat, an empty message, a user who stops instructing), the role pools and their
reproducible draws (society and code); then both recipes end to end (scripted: the accounting; embedded:
one session of two turns)."""

from __future__ import annotations

import json

import pytest

from synthloom.methods.agentic.camel import KICKOFF, SPECIFIER_SYSTEM, Camel, gives_instruction, substance
from synthloom.methods.agentic.camel_roles import CamelRoles, RolePoolError, load_pool
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step

SESSION = {"id": "s1", "variant": "society", "assistant_role": "Chef", "user_role": "Nurse",
           "task": "cook a week of healthy meals on a tight budget"}
CODE = {"id": "c1", "variant": "code", "assistant_role": "Computer Programmer", "user_role": "person working in Finance",
        "task": "compute loan amortisation schedules", "language": "Python", "domain": "Finance"}
SPECIFIED = "Plan five dinners under 40 euros for a nurse on night shifts, with batch-cooked lentil stew."
I1 = "Instruction: List the ingredients for a lentil stew that serves four.\nInput: None"
I2 = "Instruction: Write the shopping list with prices for the five dinners.\nInput: a budget of 40 euros"
I3 = "Instruction: Give a prep schedule for Sunday afternoon.\nInput: None"
S1 = "Solution: Red lentils, onions, carrots, garlic, cumin, tinned tomatoes and stock. Next request."
S2 = "Solution: Lentils 3 euros, vegetables 9 euros, rice 2 euros, eggs 3 euros, chicken thighs 12 euros. Next request."
S3 = "Solution: Soak and cook the lentils first, then roast the vegetables while the rice cooks. Next request."
DONE = "<CAMEL_TASK_DONE>"


def speaker(req) -> str:
    system = req.messages[0]["content"] if req.messages[0]["role"] == "system" else ""
    if system == SPECIFIER_SYSTEM:
        return "specifier"
    return "user" if "You will always instruct me" in system else "assistant"


def session_model(users, assistants, specified=SPECIFIED):
    """The specifier says ``specified``; the AI user says ``users[k]`` and the AI assistant ``assistants[k]``
    at turn k+1 (an item may be a (text, finish_reason) pair)."""
    def reply(req, j):
        who = speaker(req)
        if who == "specifier":
            return specified
        own = sum(1 for m in req.messages if m["role"] == "assistant")  # this agent's earlier messages
        item = (users if who == "user" else assistants)[own]
        return (item[0], None, item[1]) if isinstance(item, tuple) else item
    return ScriptedModel(reply)


def run(users, assistants, record=SESSION, **opts):
    model = session_model(users, assistants)
    out = run_step(Camel("roleplay", **opts), model, [dict(record)])[0]
    return out, model


def rejected(users, assistants, **opts) -> str:
    out, _ = run(users, assistants, **opts)
    assert isinstance(out, Rejected), out
    return out.reason


# -- prompts ------------------------------------------------------------------------------------------


def test_the_specifier_and_the_inception_prompts_follow_the_paper():
    (row,), model = run([I1, DONE], [S1])
    spec, user, assistant = model.requests[0], model.requests[1], model.requests[2]
    assert spec.messages[0]["content"] == SPECIFIER_SYSTEM
    assert spec.messages[1]["content"].startswith(
        "Here is a task that Chef will help Nurse to complete: cook a week of healthy meals on a tight budget.\n"
        "Please make it more specific. Be creative and imaginative.")
    assert "in 50 words or less. Do not add anything else." in spec.messages[1]["content"]
    assert spec.max_tokens == 160
    user_system = user.messages[0]["content"]
    assert user_system.startswith("Never forget you are a Nurse and I am a Chef. Never flip roles! You will always instruct me.")
    assert f"Here is the task: {SPECIFIED}. Never forget our task!" in user_system
    assert "Instruction: <YOUR_INSTRUCTION>\nInput: None" in user_system and "<CAMEL_TASK_DONE>" in user_system
    assert user.messages[1] == {"role": "user", "content": KICKOFF} and user.max_tokens == 256
    assistant_system = assistant.messages[0]["content"]
    assert assistant_system.startswith("Never forget you are a Chef and I am a Nurse. Never flip roles! Never instruct me!")
    assert "Solution: <YOUR_SOLUTION>" in assistant_system and "Always end <YOUR_SOLUTION> with: Next request." in assistant_system
    assert list(assistant.messages[1:]) == [{"role": "user", "content": I1}] and assistant.max_tokens == 1024
    # the AI user sees the assistant's solution as the other party's message, its own instruction as its own
    assert list(model.requests[3].messages[2:]) == [{"role": "assistant", "content": I1}, {"role": "user", "content": S1}]
    assert len({r.seed for r in model.requests}) == 4  # every call of the session has its own seed


def test_the_code_variant_prompts_name_the_language_and_the_domain():
    (row,), model = run([I1, DONE], [S1], record=CODE, variant="code")
    spec, user, assistant = (r.messages for r in model.requests[:3])
    assert spec[1]["content"].startswith("Here is a task that a programmer will help a person working in Finance to "
                                         "complete using Python: compute loan amortisation schedules.")
    assert user[0]["content"].startswith("Never forget you are a person working in Finance and I am a Computer Programmer.")
    assert "using Python programming language" in assistant[0]["content"]
    assert "<YOUR_SOLUTION> must contain Python code" in assistant[0]["content"]
    assert row["conversation"][0]["name"] == "person working in Finance"


def test_without_the_specifier_the_task_idea_is_the_task():
    (row,), model = run([I1, DONE], [S1], specify=False)
    assert row["specified_task"] == SESSION["task"] and len(model.requests) == 3
    assert f"Here is the task: {SESSION['task']}." in model.requests[0].messages[0]["content"]


# -- termination rules -------------------------------------------------------------------------------


def test_the_done_token_ends_the_session_and_it_is_kept():
    (row,), model = run([I1, I2, DONE], [S1, S2])
    assert row["termination"] == "done" and row["turns"] == 2 and row["specified_task"] == SPECIFIED
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert row["messages"][0]["content"].startswith("Never forget you are a Chef and I am a Nurse")
    assert [m["content"] for m in row["messages"][1:]] == [I1, S1, I2, S2]
    assert row["conversation"] == [
        {"role": "user", "name": "Nurse", "content": I1}, {"role": "assistant", "name": "Chef", "content": S1},
        {"role": "user", "name": "Nurse", "content": I2}, {"role": "assistant", "name": "Chef", "content": S2},
        {"role": "user", "name": "Nurse", "content": DONE}]
    assert [e["role"] for e in row["_lineage"]] == ["task_specifier", "ai_user", "ai_assistant", "ai_user",
                                                    "ai_assistant", "ai_user"]
    assert row["id"] == "s1" and len(model.requests) == 6
    (bare,), _ = run([I1, "CAMEL_TASK_DONE."], [S1], keep_system=False)  # the token without brackets also ends it
    assert bare["termination"] == "done" and [m["role"] for m in bare["messages"]] == ["user", "assistant"]


def test_max_turns_keeps_the_session_and_marks_it():
    (row,), model = run([I1, I2, I3], [S1, S2, S3], max_turns=2)
    assert row["termination"] == "max_turns" and row["turns"] == 2 and len(model.requests) == 5
    assert [m["content"] for m in row["messages"][1:]] == [I1, S1, I2, S2]


def test_a_message_cut_by_max_tokens_drops_its_turn():
    (row,), _ = run([I1, I2], [S1, (S2[:30], "length")])
    assert row["termination"] == "token_limit" and row["turns"] == 1
    assert [m["content"] for m in row["messages"][1:]] == [I1, S1]
    assert row["conversation"][-1] == {"role": "assistant", "name": "Chef", "content": S2[:30]}  # the raw record keeps it
    reason = rejected([(I1[:20], "length")], [])
    assert reason == "token_limit: the user's message at turn 1 hit max_tokens, before any complete turn"


def test_a_role_flip_either_way_is_rejected():
    reason = rejected([I1, I2], [S1, "Instruction: Now tell me how many people you cook for.\nInput: None"])
    assert reason.startswith("role_flip: the assistant gave an instruction at turn 2: 'Instruction: Now tell me")
    reason = rejected([I1, "Solution: I will buy the lentils myself. Next request."], [S1])
    assert reason.startswith("role_flip: the user answered instead of instructing at turn 2")


def test_a_repeated_message_is_rejected_exact_or_near_duplicate():
    reason = rejected([I1, I1], [S1])
    assert reason.startswith("repeat: the user's message at turn 2 repeats the user's message of turn 1 exactly")
    near = "Solution: Red lentils, onions, carrots, garlic, cumin, tinned tomatoes and stock! Next request."
    reason = rejected([I1, I2], [S1, near])
    assert reason.startswith("repeat: the assistant's message at turn 2 repeats the assistant's message of turn 1 (9")
    echo = "Solution: List the ingredients for a lentil stew that serves four. Next request."
    assert rejected([I1], [echo]).startswith("repeat: the assistant's message at turn 1 repeats the user's message of turn 1")
    (row,), _ = run([I1, I2, DONE], [S1, near], repeat_threshold=1.0)  # exact repeats only
    assert row["termination"] == "done" and row["turns"] == 2


def test_an_empty_message_is_rejected():
    assert rejected([I1], [""]) == "empty: the assistant's message at turn 1 is empty: ''"
    assert rejected([I1], ["Solution: Next request."]).startswith("empty: the assistant's message at turn 1 is empty")
    assert rejected(["   "], []).startswith("empty: the user's message at turn 1 is empty")


def test_a_user_who_stops_instructing_is_rejected_after_the_rounds_allowed():
    chatty = ["Thanks, that sounds good.", "I like lentils a lot, to be honest.", "My shifts start at seven."]
    answers = [S1, S2, S3]
    reason = rejected(chatty, answers)
    assert reason == "no_instruction: the user gave no instruction for 3 rounds (turn 3)"
    (row,), _ = run([chatty[0], I2, chatty[1], chatty[2], DONE], answers + ["Solution: Eat early. Next request."],
                    no_instruction_rounds=0)
    assert row["termination"] == "done" and row["turns"] == 4
    (row,), _ = run([chatty[0], I2, chatty[1], DONE], answers)  # an instruction in between resets the count
    assert row["termination"] == "done" and row["turns"] == 3


def test_markers_and_substance():
    assert substance("Instruction: Do X.\nInput: None") == "do x."
    assert substance("Solution: Next request.") == "" and substance("<CAMEL_TASK_DONE>") == ""
    assert gives_instruction("Here you go.\n**Instruction:** do Y") and not gives_instruction("the instruction: none")


def test_options_are_checked():
    with pytest.raises(ValueError, match="variant must be 'society' or 'code', not 'chat'"):
        Camel("r", variant="chat")
    with pytest.raises(ValueError, match=r"repeat_threshold must be in \(0, 1\]"):
        Camel("r", repeat_threshold=1.5)
    with pytest.raises(ValueError, match="max_turns must be >= 1, not 0"):
        Camel("r", max_turns=0)
    with pytest.raises(ValueError, match="the row is a 'code' session but the step's variant is 'society'; set variant: code"):
        run([I1, DONE], [S1], record=CODE)
    assert Camel("r", variant="code").reads == {"assistant_role", "user_role", "task", "language", "domain"}
    assert "other" in Camel("r", user_model="other").models


# -- role pools ---------------------------------------------------------------------------------------


def test_the_bundled_pools_have_the_papers_sizes():
    society, code = load_pool("society"), load_pool("code")
    assert len(society.leads) == 50 and len(society.others) == 50
    assert all(len(tasks) >= 3 for tasks in society.leads.values())
    assert len(code.others) == 20 and len(code.leads) == 50 and code.assistant_role == "Computer Programmer"


def test_the_code_variants_draws_are_reproducible_and_respect_the_subsets():
    rows = list(CamelRoles("roles", variant="code", n=40, seed=7).read())
    assert rows == list(CamelRoles("roles", variant="code", n=40, seed=7).read())
    assert rows != list(CamelRoles("roles", variant="code", n=40, seed=8).read())
    pool = load_pool("code")
    for r in rows:
        assert set(r) == {"variant", "assistant_role", "user_role", "task", "language", "domain"}
        assert r["task"] in pool.leads[r["domain"]] and r["language"] in pool.others
        assert r["user_role"] == f"person working in {r['domain']}"
    assert len({r["language"] for r in rows}) > 5 and len({r["domain"] for r in rows}) > 10
    picked = list(CamelRoles("roles", variant="code", n=12, languages=["Rust", "Go"], domains=["Finance"]).read())
    assert {r["language"] for r in picked} == {"Rust", "Go"} and {r["domain"] for r in picked} == {"Finance"}
    assert CamelRoles("roles", variant="code", n=5, seed=7).draw(3) == rows[3]  # a draw depends on its index only


def test_society_draws_pair_two_different_roles():
    rows = list(CamelRoles("roles", n=60, seed=1).read())
    assert rows == list(CamelRoles("roles", n=60, seed=1).read())
    pool = load_pool("society")
    assert all(r["assistant_role"] != r["user_role"] and r["task"] in pool.leads[r["assistant_role"]] for r in rows)
    only = list(CamelRoles("roles", n=5, assistant_roles=["Chef"], user_roles=["Chef", "Nurse"]).read())
    assert {(r["assistant_role"], r["user_role"]) for r in only} == {("Chef", "Nurse")}


def test_role_pool_options_and_files_are_checked(tmp_path):
    with pytest.raises(ValueError, match="languages applies to variant 'code', not 'society'"):
        CamelRoles("roles", languages=["Python"])
    with pytest.raises(ValueError, match="user_roles applies to variant 'society', not 'code'"):
        CamelRoles("roles", variant="code", user_roles=["Nurse"])
    with pytest.raises(ValueError, match="language 'Pyhton' is not in the role pool \\(did you mean 'Python'\\?\\)"):
        CamelRoles("roles", variant="code", languages=["Pyhton"])
    with pytest.raises(ValueError, match="a session needs two roles"):
        CamelRoles("roles", assistant_roles=["Chef"], user_roles=["Chef"])
    bad = tmp_path / "pool.json"
    bad.write_text(json.dumps({"assistant_roles": [{"role": "Chef", "tasks": []}], "user_roles": ["Nurse"]}))
    with pytest.raises(RolePoolError, match=r"assistant_roles\[0\].tasks must be a non-empty list of strings"):
        CamelRoles("roles", pool=str(bad))
    with pytest.raises(RolePoolError, match="needs a non-empty list 'domains'"):
        CamelRoles("roles", variant="code", pool=str(bad))
    with pytest.raises(RolePoolError, match="does not exist"):
        CamelRoles("roles", pool=str(tmp_path / "missing.json"))
    good = tmp_path / "mine.json"
    good.write_text(json.dumps({"assistant_roles": [{"role": "Tutor", "tasks": ["learn fractions"]}], "user_roles": ["Pupil"]}))
    assert list(CamelRoles("roles", n=1, pool=str(good)).read()) == [
        {"variant": "society", "assistant_role": "Tutor", "user_role": "Pupil", "task": "learn fractions"}]


# -- recipes ------------------------------------------------------------------------------------------


SECOND = {"camel": CamelRoles("r", n=2).draw(1), "camel-code": CamelRoles("r", variant="code", n=2).draw(1)}
#: what the assistant's inception prompt of each recipe's second session says
FLIPPED = [f"Never forget you are a {SECOND['camel']['assistant_role']} and I am a {SECOND['camel']['user_role']}.",
           f"I am a person working in {SECOND['camel-code']['domain']}. Never flip"]


def recipe_reply(req, j):
    """Two turns, then done; in the second session of each recipe the assistant instructs (a role flip)."""
    who = speaker(req)
    if who == "specifier":
        return SPECIFIED + (" Code it." if "programmer" in req.messages[1]["content"] else "")
    own = sum(1 for m in req.messages if m["role"] == "assistant")
    flip = any(f in req.messages[0]["content"] for f in FLIPPED)
    if who == "user":
        return [I1, I2, DONE][own]
    return "Instruction: you do it.\nInput: None" if flip and own == 1 else [S1, S2][own]


@pytest.mark.parametrize("recipe", ["camel", "camel-code"])
def test_the_recipes_on_a_scripted_model(recipe, scripted_model, tmp_path):
    out = tmp_path / "run"
    run_ = run_recipe(recipe, out, "n=6", extra_cli_args=("--model", scripted_model(recipe_reply)))
    data, rejected_rows, errors = completed_outputs(run_, out)
    c = run_["counts"]["roleplay"]
    assert not errors and c["in"] == 6 and c["ok"] == len(data) == 5 and c["rejected"] == len(rejected_rows) == 1
    assert all(r["_reason"].startswith("role_flip: the assistant gave an instruction at turn 2") for r in rejected_rows)
    for row in data:
        assert row["termination"] == "done" and row["turns"] == 2 and len(row["conversation"]) == 5
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    columns = {"language", "domain"} if recipe == "camel-code" else {"assistant_role", "user_role"}
    assert all(columns <= set(row) for row in data) and data


@needs_embedded
@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["camel", "camel-code"])
def test_the_recipes_on_the_embedded_model(recipe, tmp_path):
    """One session of at most two turns: the 135M model rarely keeps the format, so the test checks the
    machinery — every session ends in a kept row with its termination or a rejected row with the rule."""
    out = tmp_path / "run"
    run_ = run_recipe(recipe, out, "n=1", "max_turns=2", "steps.roleplay.max_tokens=48",
                      "steps.roleplay.user_max_tokens=32", "steps.roleplay.specifier_max_tokens=48")
    data, rejected_rows, errors = completed_outputs(run_, out)
    assert not errors and len(data) + len(rejected_rows) == 1
    for row in data:
        assert row["termination"] in ("done", "max_turns", "token_limit") and 1 <= row["turns"] <= 2
        assert len(row["messages"]) == 1 + 2 * row["turns"]
    for row in rejected_rows:
        assert row["_rejected_by"] == "roleplay"
        assert row["_reason"].split(":")[0] in ("role_flip", "repeat", "empty", "no_instruction", "token_limit", "done")
