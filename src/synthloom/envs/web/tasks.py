"""Tasks on the bundled web sites and their checkers, which judge the site's database (or the last page) after a
trajectory, never the trajectory's text.

A task is a JSON object ``{"site", "seed", "kind", "goal", "intent"}``: ``goal`` holds the kind's parameters (names as
the site shows them), ``intent`` says it in words. Kinds: ``shop`` — ``buy`` (place one order of exactly ``quantity`` ×
``product``), ``set_price`` (``product`` now costs ``price``, no other price changed), ``open_page`` (end on ``product``'s
page); ``forum`` — ``reply`` (a new reply on ``post`` containing ``text``), ``create_post`` (a new post ``title`` on
``board`` whose body contains ``text``), ``edit_post`` (``post``'s body now contains ``text``, its title kept),
``open_page`` (end on ``post``'s page). :func:`content_task` draws tasks from a site's rows (WebArena style);
:func:`task_problem` says what is wrong with a task written elsewhere (a model's specification).
"""

from __future__ import annotations

import random
import re
from typing import Any

from ..agent_env import Verdict
from ..environment import State
from .server import seed_state
from .sites.common import money, parse_price
from .sites.forum import BOARDS

KINDS = {"shop": ("buy", "set_price", "open_page"), "forum": ("reply", "create_post", "edit_post", "open_page")}
PHRASES = ["Thanks, this helped a lot", "I would water in the morning", "Try a longer rest before baking",
           "Following this thread", "Great tip about the mulch", "Salt and a brush work for me"]
TITLES = ["Favourite winter soups", "Raised beds on a budget", "Sharpening kitchen knives", "Introducing myself"]


def _norm(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip().casefold()


def _row(state: State, table: str, column: str, value: Any) -> dict[str, Any] | None:
    return next((r for r in state.get(table, []) if _norm(r.get(column)) == _norm(value)), None)


def intent_of(kind: str, goal: dict[str, Any]) -> str:
    """A task's goal in words."""
    texts = {
        "buy": "Buy {quantity} of the product \"{product}\" (one order; ship to Ada Byron, 12 Analytical Row, London).",
        "set_price": "Change the price of the product \"{product}\" to ${price}.",
        "reply": "Reply to the forum post titled \"{post}\" with: {text}",
        "create_post": "Publish a new post on the {board} board titled \"{title}\" whose text is: {text}",
        "edit_post": "Edit the forum post titled \"{post}\" so that its text ends with: {text}",
        "open_page": "Open the page of \"{target}\".",
    }
    return texts[kind].format(**goal)


def content_task(site: str, seed: int, rng: random.Random, kind: str | None = None) -> dict[str, Any]:
    """A task drawn from the rows ``site`` starts episode ``seed`` with (``kind`` drawn too unless given)."""
    state = seed_state(site, seed)
    kind = kind or rng.choice(KINDS[site])
    if kind not in KINDS[site]:
        raise ValueError(f"web task kind {kind!r} is not one of site {site!r}'s: {', '.join(KINDS[site])}")
    if site == "shop":
        product = rng.choice(state["products"])
        goal: dict[str, Any] = {
            "buy": lambda: {"product": product["name"], "quantity": rng.randint(1, min(3, product["stock"]))},
            "set_price": lambda: {"product": product["name"],
                                  "price": money(product["price_cents"] + rng.choice([-100, 150, 250, 500]))[1:]},
            "open_page": lambda: {"target": product["name"]},
        }[kind]()
    else:
        post = rng.choice(state["posts"])
        goal = {
            "reply": lambda: {"post": post["title"], "text": rng.choice(PHRASES)},
            "create_post": lambda: {"board": rng.choice(BOARDS), "title": rng.choice(TITLES), "text": rng.choice(PHRASES)},
            "edit_post": lambda: {"post": post["title"], "text": rng.choice(PHRASES)},
            "open_page": lambda: {"target": post["title"]},
        }[kind]()
    return {"site": site, "seed": int(seed), "kind": kind, "goal": goal, "intent": intent_of(kind, goal)}


def task_problem(task: Any) -> str | None:
    """Why ``task`` cannot be run and checked on its site (None when it can): an unknown site or kind, a product or post the
    site does not have, a quantity beyond the stock, a price that is not one, an empty text."""
    if not isinstance(task, dict):
        return f"a web task must be an object, not {type(task).__name__}"
    site, kind, goal = task.get("site"), task.get("kind"), task.get("goal")
    if site not in KINDS:
        return f"unknown site {site!r} (sites: {', '.join(KINDS)})"
    if kind not in KINDS[site]:
        return f"kind {kind!r} is not a task of site {site!r} ({', '.join(KINDS[site])})"
    if not isinstance(goal, dict):
        return "the task has no goal object"
    state = seed_state(site, int(task.get("seed") or 0))
    need = {"buy": ("product", "quantity"), "set_price": ("product", "price"), "open_page": ("target",), "reply": ("post", "text"),
            "create_post": ("board", "title", "text"), "edit_post": ("post", "text")}[kind]
    missing = [k for k in need if not str(goal.get(k, "")).strip()]
    if missing:
        return f"{kind} needs {', '.join(need)} (missing {', '.join(missing)})"
    if kind in ("buy", "set_price") or (kind == "open_page" and site == "shop"):
        product = _row(state, "products", "name", goal.get("product", goal.get("target")))
        if product is None:
            return f"the shop has no product {goal.get('product', goal.get('target'))!r}"
        if kind == "buy" and not (isinstance(goal["quantity"], int) and 1 <= goal["quantity"] <= product["stock"]):
            return f"quantity must be a whole number from 1 to {product['stock']} (the stock of {product['name']!r}), " \
                   f"not {goal['quantity']!r}"
        if kind == "set_price":
            cents = parse_price(str(goal["price"]))
            if cents is None or cents <= 0:
                return f"price {goal['price']!r} is not a price like 12.50"
            if cents == product["price_cents"]:
                return f"{product['name']!r} already costs {money(cents)}"
        return None
    if kind == "create_post":
        if goal["board"] not in BOARDS:
            return f"board {goal['board']!r} is not one of {', '.join(BOARDS)}"
        return f"a post titled {goal['title']!r} exists already" if _row(state, "posts", "title", goal["title"]) else None
    title = goal.get("post", goal.get("target"))
    if _row(state, "posts", "title", title) is None:
        return f"the forum has no post titled {title!r}"
    if kind in ("reply", "edit_post") and len(_norm(goal["text"])) < 3:
        return "the text to write is too short (3 characters at least)"
    return None


def check_task(task: dict[str, Any], before: State, after: State, final_title: str | None = None) -> Verdict:
    """Whether the trajectory did ``task``, from the site's state ``before`` and ``after`` it (and, for ``open_page``, the
    title of the last page shown)."""
    kind, goal = task["kind"], task["goal"]
    checker = {"buy": _check_buy, "set_price": _check_price, "reply": _check_reply, "create_post": _check_post,
               "edit_post": _check_edit}.get(kind)
    if checker is not None:
        return checker(goal, before, after)
    target = goal["target"]
    if _norm(final_title).split(" · ")[0] == _norm(target):
        return Verdict(True, "passed", {"final_title": final_title})
    return Verdict(False, f"the last page is {final_title!r}, not the page of {target!r}", {"final_title": final_title})


def _new(before: State, after: State, table: str, key: str) -> list[dict[str, Any]]:
    old = {r[key] for r in before.get(table, [])}
    return [r for r in after.get(table, []) if r[key] not in old]


def _check_buy(goal: dict[str, Any], before: State, after: State) -> Verdict:
    names = {p["product_id"]: p["name"] for p in after["products"]}
    placed = _new(before, after, "orders", "order_id")
    if not placed:
        cart = ", ".join(f"{c['quantity']} × {names[c['product_id']]}" for c in after["cart_items"])
        return Verdict(False, "no order was placed" + (f" (the cart holds {cart}: checkout was not finished)" if cart else ""))
    if len(placed) > 1:
        return Verdict(False, f"{len(placed)} orders were placed; the task asks for one")
    order_id = placed[0]["order_id"]
    items = {names[i["product_id"]]: i["quantity"] for i in after["order_items"] if i["order_id"] == order_id}
    wanted = {_row(after, "products", "name", goal["product"])["name"]: int(goal["quantity"])}  # type: ignore[index]
    if items != wanted:
        held = ", ".join(f"{q} × {n}" for n, q in sorted(items.items()))
        return Verdict(False, f"order #{order_id} holds {held}, not {goal['quantity']} × {goal['product']}", {"order_id": order_id})
    return Verdict(True, "passed", {"order_id": order_id})


def _check_price(goal: dict[str, Any], before: State, after: State) -> Verdict:
    old = {p["product_id"]: p for p in before["products"]}
    target = _row(after, "products", "name", goal["product"])
    assert target is not None
    cents = parse_price(str(goal["price"]))
    if target["price_cents"] != cents:
        return Verdict(False, f"{target['name']!r} costs {money(target['price_cents'])}, not {money(cents or 0)}")
    others = [p["name"] for p in after["products"] if p["product_id"] != target["product_id"]
              and p["price_cents"] != old[p["product_id"]]["price_cents"]]
    if others:
        return Verdict(False, f"other prices changed too: {', '.join(others)}")
    return Verdict(True, "passed")


def _check_reply(goal: dict[str, Any], before: State, after: State) -> Verdict:
    post = _row(after, "posts", "title", goal["post"]) or _row(before, "posts", "title", goal["post"])
    assert post is not None
    new = _new(before, after, "replies", "reply_id")
    if not new:
        return Verdict(False, "no reply was posted")
    mine = [r for r in new if r["post_id"] == post["post_id"]]
    if not mine:
        titles = {p["post_id"]: p["title"] for p in after["posts"]}
        return Verdict(False, f"the reply went to {titles.get(new[0]['post_id'])!r}, not to {goal['post']!r}")
    if not any(_norm(goal["text"]) in _norm(r["body"]) for r in mine):
        return Verdict(False, f"the reply says {mine[0]['body'][:80]!r}, without {goal['text']!r}")
    return Verdict(True, "passed", {"reply_id": mine[0]["reply_id"]})


def _check_post(goal: dict[str, Any], before: State, after: State) -> Verdict:
    new = _new(before, after, "posts", "post_id")
    if not new:
        return Verdict(False, "no post was published")
    match = _row({"posts": new}, "posts", "title", goal["title"])
    if match is None:
        return Verdict(False, f"the new post is titled {new[0]['title']!r}, not {goal['title']!r}")
    if match["board"] != goal["board"]:
        return Verdict(False, f"the post is on the {match['board']} board, not {goal['board']}")
    if _norm(goal["text"]) not in _norm(match["body"]):
        return Verdict(False, f"the post's text {match['body'][:80]!r} does not contain {goal['text']!r}")
    return Verdict(True, "passed", {"post_id": match["post_id"]})


def _check_edit(goal: dict[str, Any], before: State, after: State) -> Verdict:
    old = _row(before, "posts", "title", goal["post"])
    assert old is not None
    now = next(p for p in after["posts"] if p["post_id"] == old["post_id"])
    if now["title"] != old["title"]:
        return Verdict(False, f"the post's title changed to {now['title']!r}; the task keeps it")
    if _norm(goal["text"]) not in _norm(now["body"]):
        return Verdict(False, "the post's text does not contain the new words" if now["body"] != old["body"]
                       else "the post was not edited")
    return Verdict(True, "passed")
