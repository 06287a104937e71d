"""APIGen-MT on a scripted model and the real sandbox: task drawing, blueprints that validate and
blueprints rejected by each check (format, execution, grounding), trajectories kept by their final
state or rejected with the state difference, pass^k over trials; then the recipe end to end
(scripted: exact counts; embedded: grammar-constrained calls, counts add up)."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from synthloom.envs import load_environment, state_hash
from synthloom.envs.context import task_context
from synthloom.llm.types import Choice
from synthloom.methods.agentic.apigen_mt import ApigenMtBlueprint, ApigenMtTasks, blueprint_schema
from synthloom.methods.agentic.apigen_mt_trajectory import RESPOND, STOP, ApigenMtTrajectory
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import ScriptedModel, run_step, scripted_context, tool_calls
from synthloom.tools.validate import call_problem

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")

STORE = load_environment("store")
SEED = STORE.seed
ORDER = next(o for o in SEED["orders"] if o["status"] == "pending")
USER = next(u for u in SEED["users"] if u["user_id"] == ORDER["user_id"])
PAID = next(p for p in SEED["payments"] if p["order_id"] == ORDER["order_id"])
AMOUNT = f"{PAID['amount']:.2f}"
GOOD = {"intent": f"You are {USER['first_name']} {USER['last_name']} ({USER['email']}). You want to cancel order "
                  f"{ORDER['order_id']}: you no longer need it. Say yes when asked to confirm.",
        "actions": [{"name": "find_user_id_by_email", "arguments": {"email": USER["email"]}},
                    {"name": "get_order_details", "arguments": {"order_id": ORDER["order_id"]}},
                    {"name": "cancel_pending_order", "arguments": {"order_id": ORDER["order_id"], "reason": "no longer needed"}}],
        "outputs": [AMOUNT]}


def task(domain="store", user=USER["user_id"], focus="cancel_pending_order"):
    env = load_environment(domain)
    context = task_context(env.seed, env.keys, "users", user, rng=random.Random(0), limit=4)
    return {"id": "t1", "domain": domain, "user": user, "context": context, "focus": focus}


def kind(req) -> str:
    system = req.messages[0]["content"] if req.messages and req.messages[0]["role"] == "system" else ""
    if req.tools is not None:
        return "agent"
    return "user" if system.startswith("You are a customer chatting") else "blueprint"


def user_sim(req) -> str:
    """Asks once, then stops."""
    said = [m for m in req.messages if m["role"] == "assistant"]
    return f"Hi, please cancel my order {ORDER['order_id']}, my email is {USER['email']}." if not said else STOP


def agent(reason="no longer needed", say=True):
    """Looks the user up, cancels the order with ``reason``, then tells the refund (when ``say``)."""
    def reply(req):
        tools_seen = sum(1 for m in req.messages if m["role"] == "tool")
        if tools_seen == 0:
            return tool_calls(("find_user_id_by_email", {"email": USER["email"]}))
        if tools_seen == 1:
            return tool_calls(("cancel_pending_order", {"order_id": ORDER["order_id"], "reason": reason}))
        return f"Your order is cancelled; {AMOUNT if say else 'the money'} goes back to your card."
    return reply


def scripted(blueprints=(GOOD,), agent_reply=None):
    """One model for every role: blueprints in turn, the user simulator, the agent."""
    queue = list(blueprints)

    def reply(req):
        k = kind(req)
        if k == "blueprint":
            item = queue.pop(0) if len(queue) > 1 else queue[0]
            return item if isinstance(item, str) else json.dumps(item)
        return user_sim(req) if k == "user" else (agent_reply or agent())(req)
    return ScriptedModel(reply)


def blueprint_row(**opts):
    return run_step(ApigenMtBlueprint("bp", **opts), scripted(), [task()])[0][0]


# -- tasks ---------------------------------------------------------------------------------------


def test_tasks_alternate_domains_and_ground_each_in_its_users_rows():
    source = ApigenMtTasks("tasks", n=4, focus_tools=["cancel_pending_order", "book_reservation"], seed=3)
    rows = list(source.read())
    assert [r["domain"] for r in rows] == ["store", "airline", "store", "airline"]
    assert [r["focus"] for r in rows] == ["cancel_pending_order", "book_reservation"] * 2
    assert rows == list(ApigenMtTasks("tasks", n=4, focus_tools=["cancel_pending_order", "book_reservation"], seed=3).read())
    for r in rows:
        assert r["context"]["users"] == [u for u in load_environment(r["domain"]).seed["users"] if u["user_id"] == r["user"]]
    store = rows[0]["context"]
    orders = {o["order_id"] for o in store["orders"]}
    assert orders and all(o["user_id"] == rows[0]["user"] for o in store["orders"])
    assert {i["order_id"] for i in store["order_items"]} <= orders
    ordered = {i["item_id"] for i in store["order_items"]}
    assert ordered <= {v["item_id"] for v in store["variants"]}  # what the user ordered is always there
    with pytest.raises(ValueError, match="focus tool 'fly' is not a tool of store, airline"):
        ApigenMtTasks("tasks", focus_tools=["fly"])
    with pytest.raises(ValueError, match="none of the focus_tools is a tool of 'airline'"):
        ApigenMtTasks("tasks", focus_tools=["cancel_pending_order"])
    assert ApigenMtTasks("tasks", domains=["store"], focus_tools=["cancel_pending_order", "book_reservation"]).draw(0)["focus"] \
        == "cancel_pending_order"
    with pytest.raises(ValueError, match="unknown environment 'bank'"):
        ApigenMtTasks("tasks", domains=["bank"])


# -- phase 1: blueprints -------------------------------------------------------------------------


def test_a_blueprint_that_validates_records_the_expected_state():
    model = scripted()
    (row,) = run_step(ApigenMtBlueprint("bp"), model, [task()])[0]
    assert row["blueprint"] == GOOD and row["blueprint_attempts"] == 1
    assert [r["status"] for r in row["action_results"]] == ["ok", "ok", "ok"]
    assert f"orders[{ORDER['order_id']}]: status 'pending' → 'cancelled'" in row["expected_changes"]
    assert row["expected_state_hash"] != state_hash(STORE.initial_state())
    req = model.requests[0]
    assert req.json_schema == blueprint_schema(STORE, max_actions=6, max_outputs=2, calls=True)  # constrained decoding
    prompt = req.messages[-1]["content"]
    assert "authenticate" in prompt.lower() and ORDER["order_id"] in prompt and "`cancel_pending_order`" in prompt


@pytest.mark.parametrize("bad, reason", [
    ({**GOOD, "actions": [{"name": "cancel_pending_order", "arguments": {"order_id": 42, "reason": "no longer needed"}}]},
     "format: action 1: call of 'cancel_pending_order': "),
    ({**GOOD, "actions": [{"name": "cancel_order", "arguments": {}}]}, "format: action 1: unknown tool 'cancel_order'"),
    ({**GOOD, "actions": [{"name": "find_user_id_by_email", "arguments": {"email": USER["email"]}},
                          {"name": "cancel_pending_order", "arguments": {"order_id": next(
                              o["order_id"] for o in SEED["orders"] if o["status"] == "delivered"), "reason": "no longer needed"}}]},
     "execution: action 2 (cancel_pending_order) failed: ValueError: order"),
    ({**GOOD, "outputs": ["999.99"]}, "grounding: the output '999.99' is not in any action's result"),
    ("this is not JSON", "format: the reply is not a blueprint"),
])
def test_a_blueprint_failing_a_check_is_rejected_with_the_reason(bad, reason):
    (out,) = run_step(ApigenMtBlueprint("bp", attempts=1), scripted([bad]), [task()])
    assert isinstance(out, Rejected) and out.reason.startswith(reason), out.reason
    assert out.reason.endswith("(after 1 attempt)")


def test_a_failed_check_is_fed_back_and_the_next_attempt_can_pass():
    bad = {**GOOD, "outputs": ["999.99"]}
    model = scripted([bad, GOOD])
    (row,) = run_step(ApigenMtBlueprint("bp", attempts=2), model, [task()])[0]
    assert row["blueprint"] == GOOD and row["blueprint_attempts"] == 2
    second = model.requests[1].messages
    assert json.loads(second[-2]["content"]) == bad
    assert "'999.99' is not in any action's result" in second[-1]["content"]
    assert model.requests[0].seed != model.requests[1].seed


# -- phase 2: trajectories -----------------------------------------------------------------------


def trajectory_input(**extra):
    bp = blueprint_row()
    return {**bp, **extra}


def test_a_trajectory_that_reaches_the_state_is_kept():
    record = trajectory_input()
    model = scripted()
    (row,) = run_step(ApigenMtTrajectory("traj"), model, [record])[0]
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert row["messages"][0]["content"] == STORE.policy
    assert row["messages"][2]["tool_calls"][0]["function"]["name"] == "find_user_id_by_email"
    assert json.loads(row["messages"][3]["content"]) == USER["user_id"]
    assert json.loads(row["messages"][5]["content"])["status"] == "cancelled"
    assert AMOUNT in row["messages"][-1]["content"]
    assert row["tools"] == STORE.openai_tools() and row["simulated"] is False and row["pass_k"] is True
    assert row["trials"] == [{"index": 0, "success": True, "reason": None, "ended": "user_stop", "steps": 3, "calls": 2}]
    agent_requests = [r for r in model.requests if kind(r) == "agent"]
    assert all(list(r.tools) == STORE.openai_tools() and r.tool_choice == "auto" for r in agent_requests)
    user_requests = [r for r in model.requests if kind(r) == "user"]
    assert GOOD["intent"] in user_requests[0].messages[0]["content"]
    assert user_requests[0].messages[1] == {"role": "user", "content": "Hi! How can I help you today?"}


def test_a_trajectory_whose_final_state_differs_is_rejected_with_the_diff():
    (out,) = run_step(ApigenMtTrajectory("traj"), scripted(agent_reply=agent(reason="ordered by mistake")),
                      [trajectory_input()])
    assert isinstance(out, Rejected)
    assert out.reason.startswith("no trial reached the blueprint's outcome (trial 1: the final state differs")
    assert f"orders[{ORDER['order_id']}]: cancel_reason 'no longer needed' → 'ordered by mistake'" in out.reason


def test_a_trajectory_that_never_says_the_required_output_is_rejected():
    (out,) = run_step(ApigenMtTrajectory("traj"), scripted(agent_reply=agent(say=False)), [trajectory_input()])
    assert isinstance(out, Rejected) and f"never said the required output(s) '{AMOUNT}'" in out.reason
    (row,) = run_step(ApigenMtTrajectory("traj", check_outputs=False), scripted(agent_reply=agent(say=False)),
                      [trajectory_input()])[0]
    assert row["pass_k"] is True


def test_pass_k_records_every_trial():
    record = trajectory_input()
    step = ApigenMtTrajectory("traj", trials=3, keep="all")
    trial_of = {step.seed_for(record, f"trial{t}:agent{s}"): t for t in range(3) for s in range(1, 21)}
    good, bad = agent(), agent(reason="ordered by mistake")
    rows = run_step(step, scripted(agent_reply=lambda req: (bad if trial_of[req.seed] == 1 else good)(req)), [record])[0]
    assert [r["trial"] for r in rows] == [0, 2]
    assert all(r["pass_k"] is False for r in rows)
    assert [t["success"] for t in rows[0]["trials"]] == [True, False, True]
    assert "cancel_reason" in rows[0]["trials"][1]["reason"]
    assert len({r["id"] for r in rows}) == 2
    (only,) = run_step(ApigenMtTrajectory("traj", trials=2), scripted(), [record])[0]
    assert only["pass_k"] is True and [t["success"] for t in only["trials"]] == [True, True]


def test_forced_tool_choice_answers_through_a_respond_tool_that_becomes_plain_text():
    def forced(req):
        tools_seen = sum(1 for m in req.messages if m["role"] == "tool")
        if req.messages[-1]["role"] == "tool" and tools_seen == 2:
            return tool_calls((RESPOND, {"content": f"Cancelled; {AMOUNT} will be refunded."}))
        return agent()(req)
    model = scripted(agent_reply=forced)
    (row,) = run_step(ApigenMtTrajectory("traj", agent_tool_choice="required"), model, [trajectory_input()])[0]
    assert row["messages"][-1] == {"role": "assistant", "content": f"Cancelled; {AMOUNT} will be refunded."}
    assert row["messages"][0]["content"] == STORE.policy and RESPOND not in json.dumps(row["messages"])
    agent_requests = [r for r in model.requests if kind(r) == "agent"]
    assert all(r.tool_choice == "required" and r.tools[-1]["function"]["name"] == RESPOND for r in agent_requests)
    assert RESPOND in agent_requests[0].messages[0]["content"]


def test_invalid_calls_get_an_error_observation_and_an_end_tool_ends_the_trial():
    def clumsy(req):
        tools_seen = sum(1 for m in req.messages if m["role"] == "tool")
        if tools_seen == 0:
            return tool_calls(("cancel_pending_order", {"order_id": ORDER["order_id"]}), ("fly_away", {}))
        return tool_calls(("transfer_to_human_agents", {"summary": "wants to cancel"}))
    (out,) = run_step(ApigenMtTrajectory("traj", trials=1), scripted(agent_reply=clumsy), [trajectory_input()])
    assert isinstance(out, Rejected) and "status 'cancelled' → 'pending'" in out.reason
    step = ApigenMtTrajectory("traj", check_outputs=False)
    step.setup(scripted_context(scripted(agent_reply=clumsy), "traj"))
    record = trajectory_input()
    trial = asyncio.run(step.run_trial(record, STORE, record["blueprint"], STORE.initial_state(), 0))
    tool_replies = [m["content"] for m in trial.messages if m["role"] == "tool"]
    assert tool_replies[0] == "Error: call of 'cancel_pending_order': missing the required argument 'reason'"
    assert tool_replies[1].startswith("Error: unknown tool 'fly_away'")
    assert tool_replies[2] == '"Transfer successful"' and trial.ended == "end_tool" and trial.steps == 2
    assert trial.success  # nothing changed, and this expected state is the initial one


def test_a_reply_cut_by_max_tokens_or_the_step_budget_ends_the_trial():
    step = ApigenMtTrajectory("traj", max_steps=1)
    step.setup(scripted_context(scripted(agent_reply=lambda req: Choice(text='{"name": "cancel_pend', finish_reason="length")),
                                "traj"))
    record = trajectory_input()
    cut = asyncio.run(step.run_trial(record, STORE, record["blueprint"], STORE.initial_state(), 0))
    assert (cut.ended, cut.steps, cut.success) == ("agent_cut", 1, False)
    assert cut.reason.startswith("the agent never said")  # the state is the expected (initial) one given here
    step.setup(scripted_context(scripted(), "traj"))
    short = asyncio.run(step.run_trial(record, STORE, record["blueprint"], STORE.initial_state(), 0))
    assert (short.ended, short.steps, short.calls) == ("max_steps", 1, 1)


def test_a_changed_environment_is_an_error_not_a_verdict():
    record = trajectory_input(expected_state_hash="0" * 16)
    with pytest.raises(ValueError, match="no longer gives the state phase 1 validated"):
        run_step(ApigenMtTrajectory("traj"), scripted(), [record])


def test_options_are_checked():
    with pytest.raises(ValueError, match="agent_tool_choice must be 'auto' or 'required'"):
        ApigenMtTrajectory("traj", agent_tool_choice="none")
    with pytest.raises(ValueError, match="trials must be >= 1"):
        ApigenMtTrajectory("traj", trials=0)
    with pytest.raises(ValueError, match="attempts must be >= 1"):
        ApigenMtBlueprint("bp", attempts=0)


# -- the recipe ----------------------------------------------------------------------------------


def recipe_reply(req):
    """A model for the whole recipe on the store: a read-only blueprint about the prompt's user, an
    agent that looks them up and says their email, a user who asks once."""
    k = kind(req)
    if k == "blueprint":
        user_id = req.messages[-1]["content"].split("The customer is ", 1)[1].split(".", 1)[0]
        email = next(u["email"] for u in SEED["users"] if u["user_id"] == user_id)
        return json.dumps({"intent": f"You are user {user_id}; ask which email is on file.",
                           "actions": [{"name": "get_user_details", "arguments": {"user_id": user_id}},
                                       {"name": "find_user_id_by_email", "arguments": {"email": email}}], "outputs": [email]})
    if k == "user":
        intent = req.messages[0]["content"]
        return f"I am {intent.split('You are user ', 1)[1].split(';')[0]}. Which email do you have?" \
            if not any(m["role"] == "assistant" for m in req.messages) else STOP
    if not any(m["role"] == "tool" for m in req.messages):
        user_id = req.messages[1]["content"].split("I am ", 1)[1].split(".", 1)[0]
        return tool_calls(("get_user_details", {"user_id": user_id}))
    details = json.loads(next(m["content"] for m in req.messages if m["role"] == "tool"))
    return Choice(text=f"Your email is {details['email']}.", finish_reason="stop")


def test_the_recipe_on_a_scripted_model(scripted_model, tmp_path):
    out = tmp_path / "run"
    run = run_recipe("apigen-mt", out, "n=3", "domains=[store]", "trials=2", "agent_tool_choice=auto",
                     extra_cli_args=("--model", scripted_model(recipe_reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and not rejected and len(data) == 3
    c = run["counts"]
    assert c["blueprint"]["in"] == c["blueprint"]["ok"] == 3 and c["trajectory"]["ok"] == 3
    for row in data:
        assert set(row) >= {"messages", "tools", "domain", "blueprint", "trials", "pass_k", "simulated"}
        assert row["pass_k"] is True and len(row["trials"]) == 2 and row["domain"] == "store"
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant", "tool", "assistant"]
        assert [a["name"] for a in row["blueprint"]["actions"]] == ["get_user_details", "find_user_id_by_email"]


@needs_embedded
@pytest.mark.slow
def test_the_recipe_on_the_embedded_model(tmp_path, scripted_model):
    """The embedded model plays the agent (grammar-constrained calls under tool_choice=required) and the
    user; a scripted writer supplies a valid blueprint, so phase 2 always runs (the 135M model's own
    blueprints rarely validate, and each of its calls over this prompt takes most of a minute here)."""
    writer = scripted_model(recipe_reply)
    out = tmp_path / "run"
    run = run_recipe("apigen-mt", out, "n=1", "domains=[store]", "steps.tasks.context_rows=2",
                     f"models.writer.spec={writer}", "steps.blueprint.model=writer", "steps.trajectory.max_steps=1",
                     "steps.trajectory.max_tokens=96", "steps.trajectory.user_max_tokens=32")
    data, rejected, errors = completed_outputs(run, out)
    c = run["counts"]
    assert c["blueprint"]["ok"] == 1 and c["trajectory"]["in"] == 1
    assert not errors and len(data) + len(rejected) == 1
    assert all(r["_rejected_by"] == "trajectory" and r["_reason"].startswith("no trial reached") for r in rejected)
    tools = {t.name: t for t in STORE.tools}
    for row in data:  # a kept trajectory's calls validate (the grammar constrains them)
        assert row["trials"][0]["success"] and row["messages"][0]["content"] == STORE.policy
        for m in row["messages"]:
            for call in m.get("tool_calls") or []:
                assert call_problem(call, tools) is None
