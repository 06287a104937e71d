"""The store environment's tools, in-process over a fresh copy of the seed: lookups, and every change
with its hard rules (a refused change raises ValueError and leaves the state as it was)."""

from __future__ import annotations

import json

import pytest

from synthloom.envs.environment import canonical_state


@pytest.fixture
def store(env_module):
    return env_module("store")


def _orders(seed, status):
    return [o for o in seed["orders"] if o["status"] == status]


def _payment(seed, order_id):
    return next(p for p in seed["payments"] if p["order_id"] == order_id and p["kind"] == "payment")


def _method(seed, payment_method_id):
    return next(p for p in seed["payment_methods"] if p["payment_method_id"] == payment_method_id)


def _swappable(seed, order):
    """(line, new variant) of ``order``: another in-stock option of the same product."""
    for line in (i for i in seed["order_items"] if i["order_id"] == order["order_id"]):
        for v in seed["variants"]:
            if v["product_id"] == line["product_id"] and v["item_id"] != line["item_id"] and v["stock"] > 0:
                return line, v
    return None


def _unchanged(m, seed):
    assert canonical_state(m.dump_environment_state()) == canonical_state(seed)
    assert canonical_state(json.loads(open("state.json").read())) == canonical_state(seed)


def test_the_dump_is_the_seed_and_lookups_find_users(store):
    m, seed = store
    assert canonical_state(m.dump_environment_state()) == canonical_state(seed)
    user = seed["users"][3]
    assert m.find_user_id_by_email(user["email"].upper()) == user["user_id"]
    assert m.find_user_id_by_name_zip(user["first_name"], user["last_name"], user["zip"]) == user["user_id"]
    with pytest.raises(ValueError, match="no user with email"):
        m.find_user_id_by_email("nobody@example.com")
    details = m.get_user_details(user["user_id"])
    assert details["orders"] == sorted(o["order_id"] for o in seed["orders"] if o["user_id"] == user["user_id"])
    assert {p["payment_method_id"] for p in details["payment_methods"]} == \
        {p["payment_method_id"] for p in seed["payment_methods"] if p["user_id"] == user["user_id"]}
    listed = m.list_user_orders(user["user_id"])
    assert {o["order_id"] for o in listed} == set(details["orders"])


def test_order_and_product_details(store):
    m, seed = store
    order = _orders(seed, "delivered")[0]
    details = m.get_order_details(order["order_id"])
    lines = [i for i in seed["order_items"] if i["order_id"] == order["order_id"]]
    assert [i["item_id"] for i in details["items"]] == [i["item_id"] for i in lines]
    assert details["payments"][0]["amount"] == _payment(seed, order["order_id"])["amount"]
    product = m.get_product_details(lines[0]["product_id"])
    assert lines[0]["item_id"] in product["variants"]
    assert set(m.list_products().values()) == {p["product_id"] for p in seed["products"]}
    with pytest.raises(ValueError, match="not found"):
        m.get_order_details("#W0000000")


def test_cancel_pending_order_refunds_and_restocks(store):
    m, seed = store
    order = _orders(seed, "pending")[0]
    paid = _payment(seed, order["order_id"])
    items = [i["item_id"] for i in seed["order_items"] if i["order_id"] == order["order_id"]]
    stock = {v["item_id"]: v["stock"] for v in seed["variants"]}
    out = m.cancel_pending_order(order["order_id"], "ordered by mistake")
    assert out["status"] == "cancelled" and out["cancel_reason"] == "ordered by mistake"
    assert out["payments"][-1] == {"kind": "refund", "payment_method_id": paid["payment_method_id"], "amount": paid["amount"]}
    after = {v["item_id"]: v["stock"] for v in m.dump_environment_state()["variants"]}
    for item in set(items):
        assert after[item] == stock[item] + items.count(item)


@pytest.mark.parametrize("status", ["delivered", "processed", "cancelled"])
def test_cancel_refuses_an_order_that_is_not_pending_and_changes_nothing(store, status):
    m, seed = store
    with pytest.raises(ValueError, match="only pending orders can be cancelled"):
        m.cancel_pending_order(_orders(seed, status)[0]["order_id"], "no longer needed")
    _unchanged(m, seed)


def test_cancel_refuses_a_reason_outside_the_policy(store):
    m, seed = store
    with pytest.raises(ValueError, match="reason must be"):
        m.cancel_pending_order(_orders(seed, "pending")[0]["order_id"], "found it cheaper")
    _unchanged(m, seed)


def test_modify_pending_items_charges_the_difference_once(store):
    m, seed = store
    order, (line, new) = next((o, s) for o in _orders(seed, "pending") if (s := _swappable(seed, o)))
    method = _payment(seed, order["order_id"])["payment_method_id"]
    out = m.modify_pending_order_items(order["order_id"], [line["item_id"]], [new["item_id"]], method)
    assert out["status"] == "pending (items modified)"
    assert new["item_id"] in [i["item_id"] for i in out["items"]]
    difference = round(new["price"] - line["price"], 2)
    kind = "payment" if difference > 0 else "refund"
    assert out["payments"][-1] == {"kind": kind, "payment_method_id": method, "amount": abs(difference)}
    state = m.dump_environment_state()
    stock = {v["item_id"]: v["stock"] for v in state["variants"]}
    assert stock[new["item_id"]] == new["stock"] - 1
    with pytest.raises(ValueError, match="never modified before"):
        m.modify_pending_order_items(order["order_id"], [new["item_id"]], [line["item_id"]], method)
    assert canonical_state(m.dump_environment_state()) == canonical_state(state)


def test_modify_items_refuses_another_product_and_someone_elses_payment(store):
    m, seed = store
    order, (line, _) = next((o, s) for o in _orders(seed, "pending") if (s := _swappable(seed, o)))
    method = _payment(seed, order["order_id"])["payment_method_id"]
    other = next(v for v in seed["variants"] if v["product_id"] != line["product_id"] and v["stock"] > 0)
    with pytest.raises(ValueError, match="not a variant of the same product"):
        m.modify_pending_order_items(order["order_id"], [line["item_id"]], [other["item_id"]], method)
    stranger = next(p for p in seed["payment_methods"] if p["user_id"] != order["user_id"])
    with pytest.raises(ValueError, match="does not belong to user"):
        m.modify_pending_order_items(order["order_id"], [line["item_id"]], [other["item_id"]], stranger["payment_method_id"])
    _unchanged(m, seed)


def test_out_of_stock_variant_cannot_be_ordered(store):
    m, seed = store
    empty = {v["item_id"]: v for v in seed["variants"] if v["stock"] == 0}
    for order in _orders(seed, "pending"):
        for line in (i for i in seed["order_items"] if i["order_id"] == order["order_id"]):
            target = next((v for v in empty.values() if v["product_id"] == line["product_id"]
                           and v["item_id"] != line["item_id"]), None)
            if target:
                method = _payment(seed, order["order_id"])["payment_method_id"]
                with pytest.raises(ValueError, match="out of stock"):
                    m.modify_pending_order_items(order["order_id"], [line["item_id"]], [target["item_id"]], method)
                _unchanged(m, seed)
                return
    pytest.fail("the seed has no pending order with an out-of-stock sibling variant")


def test_return_delivered_items_to_a_gift_card(store):
    m, seed = store
    gift = {p["user_id"]: p for p in seed["payment_methods"] if p["kind"] == "gift_card"}
    order = next(o for o in _orders(seed, "delivered") if o["user_id"] in gift)
    line = next(i for i in seed["order_items"] if i["order_id"] == order["order_id"])
    card = gift[order["user_id"]]
    out = m.return_delivered_order_items(order["order_id"], [line["item_id"]], card["payment_method_id"])
    assert out["status"] == "return requested"
    assert out["items"][0]["status"] == "return requested"
    after = next(p for p in m.dump_environment_state()["payment_methods"]
                 if p["payment_method_id"] == card["payment_method_id"])
    assert after["balance"] == round(card["balance"] + line["price"], 2)


def test_return_refuses_a_pending_order_and_a_foreign_card(store):
    m, seed = store
    pending = _orders(seed, "pending")[0]
    line = next(i for i in seed["order_items"] if i["order_id"] == pending["order_id"])
    with pytest.raises(ValueError, match="only delivered orders can be returned"):
        m.return_delivered_order_items(pending["order_id"], [line["item_id"]], _payment(seed, pending["order_id"])["payment_method_id"])
    order = _orders(seed, "delivered")[0]
    line = next(i for i in seed["order_items"] if i["order_id"] == order["order_id"])
    stranger = next(p for p in seed["payment_methods"] if p["user_id"] != order["user_id"])
    with pytest.raises(ValueError, match="does not belong"):
        m.return_delivered_order_items(order["order_id"], [line["item_id"]], stranger["payment_method_id"])
    with pytest.raises(ValueError, match="is not in order"):
        m.return_delivered_order_items(order["order_id"], ["0000000000"], _payment(seed, order["order_id"])["payment_method_id"])
    _unchanged(m, seed)


def test_exchange_delivered_items(store):
    m, seed = store
    order, (line, new) = next((o, s) for o in _orders(seed, "delivered") if (s := _swappable(seed, o)))
    method = _payment(seed, order["order_id"])["payment_method_id"]
    out = m.exchange_delivered_order_items(order["order_id"], [line["item_id"]], [new["item_id"]], method)
    assert out["status"] == "exchange requested"
    changed = next(i for i in out["items"] if i.get("exchange_for"))
    assert changed["item_id"] == line["item_id"] and changed["exchange_for"] == new["item_id"]
    with pytest.raises(ValueError, match="only delivered orders can be exchanged"):
        m.exchange_delivered_order_items(order["order_id"], [line["item_id"]], [new["item_id"]], method)


def test_addresses_change_and_the_change_is_written_to_state_json(store):
    m, seed = store
    order = _orders(seed, "pending")[0]
    m.modify_pending_order_address(order["order_id"], "1 Test Road", "", "Boston", "MA", "USA", "02108")
    m.modify_user_address(order["user_id"], "1 Test Road", "", "Boston", "MA", "USA", "02108")
    written = json.loads(open("state.json").read())
    assert next(o for o in written["orders"] if o["order_id"] == order["order_id"])["address1"] == "1 Test Road"
    assert next(u for u in written["users"] if u["user_id"] == order["user_id"])["zip"] == "02108"
    with pytest.raises(ValueError, match="only a pending order's address"):
        m.modify_pending_order_address(_orders(seed, "delivered")[0]["order_id"], "x", "", "y", "z", "USA", "1")
    assert m.transfer_to_human_agents("wants a refund in cash") == "Transfer successful"
