"""The web agent step on a scripted model in real headless Chromium (one shared browser): trajectories kept when the
site's database shows the task done (an order of exactly the item, a reply on the right post), rejected with the
checker's reason otherwise (the wrong item, no checkout, never stopping, replies that are not actions); the
``web_tasks`` source draws checkable tasks from the sites' content."""

from __future__ import annotations

import re

import pytest

from synthloom.envs.web import task_problem
from synthloom.methods.agentic.web_agent import WebAgent, WebTasks
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import run_step
from synthloom.testing.web import act, replier, shopper

BUY = {"site": "shop", "seed": 1, "kind": "buy", "goal": {"product": "Copper Kettle", "quantity": 2},
       "intent": "Buy 2 of the product \"Copper Kettle\"."}
REPLY = {"site": "forum", "seed": 0, "kind": "reply", "goal": {"post": "Forum rules", "text": "Agreed, thanks"},
         "intent": "Reply to the forum post titled \"Forum rules\" with: Agreed, thanks"}


def agent(chromium, **options):
    return WebAgent("agent", browser=chromium, **options)


def test_a_trajectory_that_places_the_order_is_kept(chromium):
    [out] = run_step(agent(chromium), shopper("Copper Kettle", 2), [{"id": "r1", "task": BUY}])
    assert not isinstance(out, Rejected), out
    [row] = out
    assert row["verdict"]["passed"] and row["ended"] == "stop" and row["answer"] == "done"
    actions = [s["action"]["action"] for s in row["steps"]]
    assert actions == ["click", "type", "click", "click", "type", "type", "click", "stop"]
    assert row["steps"][0]["observation"]["path"] == "/" and row["steps"][-1]["observation"]["path"] == "/orders/3"
    assert row["messages"][0]["role"] == "system" and row["messages"][1]["content"].startswith("Task: Buy 2")
    assert len(row["messages"]) == 1 + 2 * len(row["steps"]) and len(row["_lineage"]) == len(row["steps"])


@pytest.mark.parametrize(("script", "reason"), [
    (shopper("Blue Ceramic Mug", 2), "order #3 holds 2 × Blue Ceramic Mug, not 2 × Copper Kettle"),
    (shopper("Copper Kettle", 1), "order #3 holds 1 × Copper Kettle, not 2 × Copper Kettle"),
    (shopper("Copper Kettle", 2, checkout=False), "no order was placed (the cart holds 2 × Copper Kettle: checkout was not finished)"),
])
def test_trajectories_that_do_something_else_are_rejected(chromium, script, reason):
    [row] = run_step(agent(chromium), script, [{"id": "r1", "task": BUY}])
    assert isinstance(row, Rejected) and row.reason == reason


def test_a_done_task_without_stop_and_a_task_never_done_are_rejected(chromium):
    [row] = run_step(agent(chromium, max_steps=7), shopper("Copper Kettle", 2), [{"id": "r1", "task": BUY}])
    assert isinstance(row, Rejected) and row.reason == "the site's check passed but the agent never stopped (max_steps reached)"
    [row] = run_step(agent(chromium, max_steps=3), shopper("Copper Kettle", 2), [{"id": "r1", "task": BUY}])
    assert isinstance(row, Rejected) and row.reason.endswith("checkout was not finished) (stopped by max_steps reached)")


def test_a_reply_that_is_not_an_action_ends_the_trajectory(chromium):
    [row] = run_step(agent(chromium), lambda req: "I would click the kettle", [{"id": "r1", "task": BUY}])
    assert isinstance(row, Rejected)
    assert row.reason.startswith("no order was placed (stopped by a reply that was not an action); last reply: 'I would click")


def test_a_forum_reply_is_kept_and_a_reply_elsewhere_is_not(chromium):
    rows = run_step(agent(chromium), replier("Forum rules", "Agreed, thanks"), [{"id": "r1", "task": REPLY}])
    assert not isinstance(rows[0], Rejected), rows[0]
    assert rows[0][0]["verdict"]["passed"] and rows[0][0]["steps"][-1]["action"] == {"action": "stop", "element": 0, "text": "replied"}
    [row] = run_step(agent(chromium), replier("Welcome to the forum", "Agreed, thanks"), [{"id": "r1", "task": REPLY}])
    assert isinstance(row, Rejected) and row.reason == "the reply went to 'Welcome to the forum', not to 'Forum rules'"


def test_a_stop_at_once_is_rejected_and_a_bad_task_is_an_error(chromium):
    [row] = run_step(agent(chromium), lambda req: act("stop", text="done"), [{"id": "r1", "task": BUY}])
    assert isinstance(row, Rejected) and row.reason == "no order was placed"
    with pytest.raises(ValueError, match="column 'task': the shop has no product 'Teapot'"):
        run_step(agent(chromium), lambda req: act("stop"), [{"id": "r1", "task": {**BUY, "goal": {"product": "Teapot", "quantity": 1}}}])


def test_web_tasks_draws_checkable_tasks_deterministically():
    source = WebTasks("tasks", n=12, kinds=["buy", "reply"], seed=5)
    rows = list(source.read())
    assert rows == list(WebTasks("tasks", n=12, kinds=["buy", "reply"], seed=5).read())
    assert [r["task"]["site"] for r in rows[:4]] == ["shop", "forum", "shop", "forum"]
    assert {r["task"]["kind"] for r in rows} == {"buy", "reply"} and all(task_problem(r["task"]) is None for r in rows)
    assert [r["task"]["seed"] for r in rows[:3]] == [5, 6, 7]
    with pytest.raises(ValueError, match="kind 'fly' is not a task of shop"):
        WebTasks("tasks", sites=["shop"], kinds=["fly"])
    with pytest.raises(ValueError, match="unknown site 'blog'"):
        WebTasks("tasks", sites=["blog"])


def test_the_recipe_keeps_the_orders_placed_and_rejects_a_cart_left_unpaid(tmp_path, scripted_model, chromium):
    """web-tasks end to end: three buy tasks (seeds 0-2: 1 tote bag, 2 tote bags, 2 fountain pens); the scripted
    agent checks out only when it buys two, so two trajectories are kept and the one left in the cart is rejected by
    the shop's database check."""
    def reply(req):
        intent = next(m["content"] for m in req.messages if m["role"] == "user")
        quantity, product = re.search(r'Buy (\d+) of the product "([^"]+)"', intent).groups()
        return shopper(product, int(quantity), checkout=quantity == "2")(req)

    out = tmp_path / "web"
    run = run_recipe("web-tasks", out, "n=3", "sites=[shop]", "kinds=[buy]",
                     extra_cli_args=("--model", scripted_model(reply)))
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) == 2 and len(rejected) == 1
    assert sorted((r["task"]["goal"]["product"], r["task"]["goal"]["quantity"]) for r in data) == [
        ("Canvas Tote Bag", 2), ("Fountain Pen", 2)]
    assert all(r["verdict"] for r in data) and rejected[0]["_rejected_by"] == "agent"
    assert rejected[0]["task"]["goal"]["quantity"] == 1


@needs_embedded
@pytest.mark.slow
def test_the_recipe_on_the_embedded_model(tmp_path, chromium):
    """One shop task, two grammar-constrained browser actions by the 135M model in Chromium: it rarely finishes a task,
    so this checks the machinery: the run completes and the task ends as a kept or a rejected trajectory."""
    out = tmp_path / "web"
    run = run_recipe("web-tasks", out, "n=1", "sites=[shop]", "max_steps=2")
    data, rejected, errors = completed_outputs(run, out)
    assert not errors and len(data) + len(rejected) == 1
    (usage,) = [u for u in run["usage"]["by_step"] if u["step"] == "agent"]
    assert 1 <= usage["requests"] <= 2 and usage["errors"] == 0
    assert all(r["_rejected_by"] == "agent" for r in rejected)
