"""Web tasks drawn from the sites' content, the problems of tasks written elsewhere, and the checkers, which judge the
site's state before and after a trajectory (here: states edited by hand, no browser)."""

from __future__ import annotations

import copy
import random

import pytest

from synthloom.envs.web import KINDS, check_task, content_task, seed_state, task_problem


@pytest.mark.parametrize("site", sorted(KINDS))
def test_every_drawn_task_can_be_run_and_checked(site):
    rng = random.Random(0)
    for seed in range(4):
        for kind in KINDS[site]:
            task = content_task(site, seed, rng, kind)
            assert task_problem(task) is None, task
            assert task["intent"] and task["kind"] == kind
            before = seed_state(site, seed)
            verdict = check_task(task, before, copy.deepcopy(before), "Somewhere else · Loom")
            assert not verdict.passed, f"{kind}: an untouched site must not pass"


def shop_after(before, items, *, extra_orders=0):
    after = copy.deepcopy(before)
    for k in range(1 + extra_orders):
        order_id = 3 + k
        after["orders"].append({"order_id": order_id, "customer": "A", "address": "B", "total_cents": 1, "status": "placed"})
        after["order_items"] += [{"order_id": order_id, "product_id": pid, "quantity": q, "price_cents": 1} for pid, q in items]
    return after


BUY = {"site": "shop", "seed": 0, "kind": "buy", "goal": {"product": "copper kettle", "quantity": 2}, "intent": "x"}


def test_buy_passes_only_for_one_order_of_exactly_the_item():
    before = seed_state("shop", 0)
    assert check_task(BUY, before, shop_after(before, [(2, 2)])).passed
    cases = {
        "holds 1 × Copper Kettle, not 2": [(2, 1)],
        "holds 2 × Blue Ceramic Mug": [(1, 2)],
        "holds 2 × Blue Ceramic Mug, 2 × Copper Kettle": [(1, 2), (2, 2)],
    }
    for reason, items in cases.items():
        verdict = check_task(BUY, before, shop_after(before, items))
        assert not verdict.passed and reason in verdict.reason
    assert "2 orders were placed" in check_task(BUY, before, shop_after(before, [(2, 2)], extra_orders=1)).reason
    in_cart = copy.deepcopy(before)
    in_cart["cart_items"] = [{"product_id": 2, "quantity": 2}]
    assert check_task(BUY, before, in_cart).reason == "no order was placed (the cart holds 2 × Copper Kettle: checkout was not finished)"


def test_set_price_checks_the_product_and_leaves_the_others():
    before = seed_state("shop", 0)
    task = {"site": "shop", "seed": 0, "kind": "set_price", "goal": {"product": "Fountain Pen", "price": "19.5"}, "intent": "x"}
    after = copy.deepcopy(before)
    pen = next(p for p in after["products"] if p["name"] == "Fountain Pen")
    pen["price_cents"] = 1950
    assert check_task(task, before, after).passed
    next(p for p in after["products"] if p["name"] == "Blue Ceramic Mug")["price_cents"] += 1
    assert "other prices changed too: Blue Ceramic Mug" in check_task(task, before, after).reason
    pen["price_cents"] = 1900
    assert "costs $19.00, not $19.50" in check_task(task, before, after).reason


def test_forum_checkers():
    before = seed_state("forum", 0)
    reply = {"site": "forum", "seed": 0, "kind": "reply", "goal": {"post": "Forum rules", "text": "Agreed,  thanks"}, "intent": "x"}
    after = copy.deepcopy(before)
    after["replies"].append({"reply_id": 99, "post_id": 2, "body": "agreed, thanks!", "author": "you"})
    assert check_task(reply, before, after).passed
    after["replies"][-1]["post_id"] = 1
    assert "went to 'Welcome to the forum', not to 'Forum rules'" in check_task(reply, before, after).reason
    assert check_task(reply, before, before).reason == "no reply was posted"

    new = {"site": "forum", "seed": 0, "kind": "create_post", "intent": "x",
           "goal": {"board": "cooking", "title": "Soups", "text": "leek soup"}}
    after = copy.deepcopy(before)
    after["posts"].append({"post_id": 9, "board": "general", "title": "soups", "body": "My leek soup.", "author": "you"})
    assert "on the general board, not cooking" in check_task(new, before, after).reason
    after["posts"][-1]["board"] = "cooking"
    assert check_task(new, before, after).passed

    edit = {"site": "forum", "seed": 0, "kind": "edit_post", "goal": {"post": "Forum rules", "text": "No spam."}, "intent": "x"}
    after = copy.deepcopy(before)
    rules = next(p for p in after["posts"] if p["title"] == "Forum rules")
    rules["body"] += " No spam."
    assert check_task(edit, before, after).passed
    rules["title"] = "Rules"
    assert "title changed" in check_task(edit, before, after).reason
    assert check_task(edit, before, before).reason == "the post was not edited"

    page = {"site": "forum", "seed": 0, "kind": "open_page", "goal": {"target": "Forum rules"}, "intent": "x"}
    assert check_task(page, before, before, "Forum rules · Loom Forum").passed
    assert not check_task(page, before, before, "Loom Forum · Loom Forum").passed


@pytest.mark.parametrize(("task", "problem"), [
    ({**BUY, "goal": {"product": "Teapot", "quantity": 1}}, "the shop has no product 'Teapot'"),
    ({**BUY, "goal": {"product": "Copper Kettle", "quantity": 500}}, "quantity must be a whole number from 1 to"),
    ({**BUY, "kind": "reply"}, "kind 'reply' is not a task of site 'shop'"),
    ({**BUY, "site": "blog"}, "unknown site 'blog'"),
    ({**BUY, "kind": "set_price", "goal": {"product": "Copper Kettle", "price": "cheap"}}, "is not a price like 12.50"),
    ({"site": "forum", "seed": 0, "kind": "reply", "goal": {"post": "Forum rules", "text": ""}}, "reply needs post, text (missing text)"),
    ({"site": "forum", "seed": 0, "kind": "create_post", "goal": {"board": "cooking", "title": "forum rules", "text": "x"}},
     "a post titled 'forum rules' exists already"),
    ({"site": "forum", "seed": 0, "kind": "edit_post", "goal": {"post": "Nope", "text": "abc"}}, "the forum has no post titled 'Nope'"),
])
def test_task_problems_name_what_is_wrong(task, problem):
    assert problem in task_problem(task)
