"""AgentTrek on a scripted model in real headless Chromium: bundled tutorials read as rows, specifications turned into
checkable web tasks (or rejected with the reason the site cannot check them), a guided replay kept when the site's
database shows the task done; then the recipe end to end on the embedded model (machinery, counts add up)."""

from __future__ import annotations

import json

import pytest

from synthloom.envs.web import task_problem
from synthloom.methods.agentic.agenttrek import AgenttrekTask, WebTutorials, spec_schema
from synthloom.methods.agentic.web_agent import WebAgent
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import completed_outputs, needs_embedded, run_recipe
from synthloom.testing.scripted import run_step
from synthloom.testing.web import shared_chromium, shopper

KETTLE = {"intent": "Order two copper kettles", "kind": "buy", "product": "Copper Kettle", "quantity": 2, "price": "",
          "steps": ["Open the home page.", "Click Copper Kettle.", "Set Quantity to 2.", "Add to cart and check out."]}


def test_the_bundled_tutorials_cycle_over_episode_seeds(tmp_path):
    source = WebTutorials("tutorials", n=10)
    rows = list(source.read())
    assert len(rows) == 10 and len({r["tutorial_id"] for r in rows}) == 8
    assert {r["site"] for r in rows} == {"shop", "forum"} and [r["seed"] for r in rows] == [0] * 8 + [1, 1]
    assert all(r["tutorial"] and r["title"] for r in rows)
    assert {r["site"] for r in WebTutorials("t", sites=["forum"]).read()} == {"forum"}
    (tmp_path / "bad.md").write_text("no front matter")
    with pytest.raises(ValueError, match="bad.md: a tutorial starts with front matter"):
        WebTutorials("t", path=str(tmp_path))
    with pytest.raises(ValueError, match="is not a folder"):
        WebTutorials("t", path=str(tmp_path / "missing"))


def spec_reply(spec):
    return lambda req: json.dumps(spec)


def test_a_specification_becomes_a_checkable_task():
    record = {"id": "r1", "tutorial_id": "shop-buy-kettle", "site": "shop", "seed": 1, "title": "Kettles", "tutorial": "Buy a kettle: ..."}
    [out] = run_step(AgenttrekTask("spec"), spec_reply(KETTLE), [record])
    [row] = out
    assert row["task"] == {"site": "shop", "seed": 1, "kind": "buy", "goal": {"product": "Copper Kettle", "quantity": 2},
                           "intent": row["task"]["intent"]}
    assert task_problem(row["task"]) is None and row["task"]["intent"].startswith("Buy 2 of the product \"Copper Kettle\"")
    assert row["guide"] == KETTLE["steps"] and row["spec"] == KETTLE


@pytest.mark.parametrize(("site", "spec", "reason"), [
    ("shop", {**KETTLE, "quantity": 9, "product": "Copper Kettle"}, "quantity must be a whole number from 1 to 6"),
    ("shop", {**KETTLE, "kind": "set_price", "price": "about ten"}, "price 'about ten' is not a price like 12.50"),
    ("forum", {"intent": "x", "kind": "reply", "post": "Forum rules", "board": "general", "title": "", "text": "", "steps": ["a"]},
     "reply needs post, text (missing text)"),
    ("forum", {"intent": "x", "kind": "create_post", "post": "Forum rules", "board": "general", "title": "Forum rules",
               "text": "hello", "steps": ["a"]}, "a post titled 'Forum rules' exists already"),
])
def test_specifications_the_site_cannot_check_are_rejected(site, spec, reason):
    [out] = run_step(AgenttrekTask("spec"), spec_reply(spec), [{"id": "r1", "site": site, "seed": 1, "title": "T", "tutorial": "..."}])
    assert isinstance(out, Rejected) and out.reason.startswith(f"the specification cannot be checked on the {site}: {reason}")


def test_the_spec_schema_names_the_sites_products_and_posts():
    shop, forum = spec_schema("shop"), spec_schema("forum")
    assert "Copper Kettle" in shop["properties"]["product"]["enum"] and shop["required"] == list(shop["properties"])
    assert "Forum rules" in forum["properties"]["post"]["enum"] and forum["properties"]["kind"]["enum"][0] == "reply"


def test_a_guided_replay_is_kept_only_when_the_order_is_right():
    chromium = shared_chromium()
    if chromium is None:
        pytest.skip("chromium is not installed (make system-deps installs it)")
    record = {"id": "r1", "site": "shop", "seed": 1, "title": "T", "tutorial": "..."}
    [[spec_row]] = run_step(AgenttrekTask("spec"), spec_reply(KETTLE), [record])
    seen = []

    def guided(script):
        def reply(req):
            seen.append(req.messages[-1]["content"])
            return script(req)
        return reply

    [out] = run_step(WebAgent("replay", guide_column="guide", browser=chromium), guided(shopper("Copper Kettle", 2)), [spec_row])
    assert not isinstance(out, Rejected), out
    assert out[0]["verdict"]["passed"] and out[0]["tutorial"] == "..."
    assert "A tutorial for this task" in seen[0] and "3. Set Quantity to 2." in seen[0]
    [out] = run_step(WebAgent("replay", guide_column="guide", browser=chromium), shopper("Canvas Tote Bag", 2), [spec_row])
    assert isinstance(out, Rejected) and "holds 2 × Canvas Tote Bag" in out.reason


@needs_embedded
@pytest.mark.slow
def test_the_recipe_on_the_embedded_model(tmp_path, scripted_model):
    """One tutorial: a scripted writer gives the specification (the 135M model's own rarely validates), the embedded
    model replays it in Chromium for two grammar-constrained steps. It rarely does the task, so this checks the
    machinery: the run completes, the replay ran, every row is accounted for."""
    if shared_chromium() is None:
        pytest.skip("chromium is not installed (make system-deps installs it)")
    writer = scripted_model(spec_reply(KETTLE))
    out = tmp_path / "run"
    run = run_recipe("agenttrek", out, "max_steps=2", "sites=[shop]", f"models.writer.spec={writer}", "steps.spec.model=writer",
                     "steps.replay.max_tokens=96", extra_cli_args=("-n", "1"))
    data, rejected, errors = completed_outputs(run, out)
    c = run["counts"]
    assert c["spec"]["ok"] == 1 and c["replay"]["in"] == 1
    assert not errors and len(data) + len(rejected) == 1
    for row in rejected:
        assert row["_rejected_by"] == "replay" and row["_reason"]
    for row in data:
        assert row["verdict"]["passed"] and len(row["steps"]) <= 2
