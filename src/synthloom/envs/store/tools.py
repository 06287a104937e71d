"""Retail store environment tools (τ-bench retail style): look up customers, orders and products, and
cancel, modify, return or exchange orders under the store's policy.

Runs inside the sandbox as its own module: the state comes from ``state.json`` in the current
directory (``{table: [row, ...]}``), loaded into an in-memory SQLite database built from
``schema.sql`` (also in the current directory); every change is written back to ``state.json``, so
calls in one run see each other's changes. A tool that breaks a hard rule raises ``ValueError`` and
changes nothing. ``dump_environment_state`` is the environment's own read-out, never offered to an agent.
"""

import contextlib
import json
import sqlite3
from typing import Literal

CATEGORY = "store"
_STATE_FILE = "state.json"
_SCHEMA_FILE = "schema.sql"
_DB = None
_ADDRESS = ("address1", "address2", "city", "state", "country", "zip")


def _db():
    global _DB
    if _DB is None:
        with open(_STATE_FILE, encoding="utf-8") as f:
            state = json.load(f)
        with open(_SCHEMA_FILE, encoding="utf-8") as f:
            schema = f.read()
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.row_factory = sqlite3.Row
        db.executescript(schema)
        for table, rows in state.items():
            for row in rows:
                cols = ", ".join(row)
                db.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        _DB = db
    return _DB


@contextlib.contextmanager
def _change():
    """A transaction: all of a tool's writes, or none of them when it raises."""
    db = _db()
    db.execute("SAVEPOINT tool_call")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK TO tool_call")
        db.execute("RELEASE tool_call")
        raise
    db.execute("RELEASE tool_call")
    with open(_STATE_FILE, "w", encoding="utf-8") as f:
        json.dump(dump_environment_state(), f)


def _one(db, sql, args, missing):
    row = db.execute(sql, args).fetchone()
    if row is None:
        raise ValueError(missing)
    return dict(row)


def _user(db, user_id):
    return _one(db, "SELECT * FROM users WHERE user_id = ?", (user_id,), f"user {user_id!r} not found")


def _order(db, order_id):
    return _one(db, "SELECT * FROM orders WHERE order_id = ?", (order_id,),
                f"order {order_id!r} not found (order ids look like '#W1234567')")


def _variant(db, item_id):
    return _one(db, "SELECT * FROM variants WHERE item_id = ?", (item_id,), f"item {item_id!r} not found")


def _payment_method(db, user_id, payment_method_id):
    row = db.execute("SELECT * FROM payment_methods WHERE payment_method_id = ?", (payment_method_id,)).fetchone()
    if row is None or row["user_id"] != user_id:
        raise ValueError(f"payment method {payment_method_id!r} does not belong to user {user_id!r}")
    return dict(row)


def _next_seq(db, order_id):
    return db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM payments WHERE order_id = ?", (order_id,)).fetchone()[0]


def _record_payment(db, order_id, kind, method, amount):
    """A payment (charge) or refund of ``amount`` on ``method``; gift cards move their balance at once."""
    amount = round(amount, 2)
    if method["kind"] == "gift_card":
        balance = round(method["balance"] + (amount if kind == "refund" else -amount), 2)
        if balance < 0:
            raise ValueError(f"gift card {method['payment_method_id']!r} has a balance of {method['balance']:.2f}, "
                             f"less than {amount:.2f}")
        db.execute("UPDATE payment_methods SET balance = ? WHERE payment_method_id = ?",
                   (balance, method["payment_method_id"]))
    db.execute("INSERT INTO payments (order_id, seq, kind, payment_method_id, amount) VALUES (?, ?, ?, ?, ?)",
               (order_id, _next_seq(db, order_id), kind, method["payment_method_id"], amount))


def _pick_lines(db, order_id, item_ids):
    """The order's lines for ``item_ids`` (one line per id, first unused match), still 'ordered'."""
    lines = [dict(r) for r in db.execute("SELECT * FROM order_items WHERE order_id = ? ORDER BY line", (order_id,))]
    picked = []
    for item_id in item_ids:
        line = next((ln for ln in lines if ln["item_id"] == item_id and ln not in picked and ln["status"] == "ordered"),
                    None)
        if line is None:
            raise ValueError(f"item {item_id!r} is not in order {order_id!r} (or is already being returned or "
                             "exchanged)")
        picked.append(line)
    return picked


def _swap_variants(db, lines, new_item_ids):
    """Check each new variant is a different option of the same product, in stock; returns the variants."""
    if len(lines) != len(new_item_ids):
        raise ValueError(f"item_ids and new_item_ids must have the same length ({len(lines)} != {len(new_item_ids)})")
    out = []
    for line, new_id in zip(lines, new_item_ids):
        new = _variant(db, new_id)
        if new["product_id"] != line["product_id"]:
            raise ValueError(f"item {new_id!r} is not a variant of the same product as item {line['item_id']!r}")
        if new_id == line["item_id"]:
            raise ValueError(f"item {new_id!r} is the item already ordered; choose a different option")
        needed = sum(1 for n in new_item_ids if n == new_id)
        if new["stock"] < needed:
            raise ValueError(f"item {new_id!r} is out of stock")
        out.append(new)
    return out


def _paid_with(db, order_id):
    row = db.execute("SELECT payment_method_id FROM payments WHERE order_id = ? AND kind = 'payment' ORDER BY seq",
                     (order_id,)).fetchone()
    return dict(db.execute("SELECT * FROM payment_methods WHERE payment_method_id = ?", (row[0],)).fetchone())


def find_user_id_by_email(email: str) -> str:
    """Find a customer's user id from their email address.

    Args:
        email: the customer's email address, e.g. 'mia.garcia12@example.com'.

    Returns:
        The user id.
    """
    row = _db().execute("SELECT user_id FROM users WHERE lower(email) = lower(?)", (email.strip(),)).fetchone()
    if row is None:
        raise ValueError(f"no user with email {email!r}")
    return row[0]


def find_user_id_by_name_zip(first_name: str, last_name: str, zip: str) -> str:
    """Find a customer's user id from their first name, last name and zip code.

    Args:
        first_name: the customer's first name, e.g. 'Mia'.
        last_name: the customer's last name, e.g. 'Garcia'.
        zip: the zip code of the customer's address, e.g. '78701'.

    Returns:
        The user id.
    """
    row = _db().execute("SELECT user_id FROM users WHERE lower(first_name) = lower(?) AND lower(last_name) = lower(?) "
                        "AND zip = ?", (first_name.strip(), last_name.strip(), zip.strip())).fetchone()
    if row is None:
        raise ValueError(f"no user named {first_name} {last_name} with zip code {zip}")
    return row[0]


def get_user_details(user_id: str) -> dict:
    """Get a customer's profile: name, email, default address, payment methods and order ids.

    Args:
        user_id: the user id, e.g. 'mia_garcia_4516'.

    Returns:
        The customer's details.
    """
    db = _db()
    user = _user(db, user_id)
    methods = [dict(r) for r in db.execute("SELECT * FROM payment_methods WHERE user_id = ? ORDER BY payment_method_id",
                                           (user_id,))]
    orders = [r[0] for r in db.execute("SELECT order_id FROM orders WHERE user_id = ? ORDER BY order_id", (user_id,))]
    return {"user_id": user_id, "name": {"first_name": user["first_name"], "last_name": user["last_name"]},
            "email": user["email"], "address": {k: user[k] for k in _ADDRESS},
            "payment_methods": [{k: v for k, v in m.items() if k != "user_id" and v is not None} for m in methods],
            "orders": orders}


def list_user_orders(user_id: str) -> list:
    """List a customer's orders with their status and date.

    Args:
        user_id: the user id, e.g. 'mia_garcia_4516'.

    Returns:
        One entry per order: order id, status and the date it was placed.
    """
    db = _db()
    _user(db, user_id)
    rows = db.execute("SELECT order_id, status, placed_on FROM orders WHERE user_id = ? ORDER BY placed_on, order_id",
                      (user_id,))
    return [dict(r) for r in rows]


def get_order_details(order_id: str) -> dict:
    """Get an order's status, shipping address, items and payment history.

    Args:
        order_id: the order id, e.g. '#W1234567'.

    Returns:
        The order's details.
    """
    db = _db()
    order = _order(db, order_id)
    items = []
    for r in db.execute("SELECT i.*, p.name, v.options FROM order_items i JOIN products p USING (product_id) "
                        "JOIN variants v ON v.item_id = i.item_id WHERE order_id = ? ORDER BY line", (order_id,)):
        item = {"item_id": r["item_id"], "product_id": r["product_id"], "name": r["name"],
                "options": json.loads(r["options"]), "price": r["price"], "status": r["status"]}
        if r["new_item_id"]:
            item["exchange_for"] = r["new_item_id"]
        items.append(item)
    payments = [{"kind": r["kind"], "payment_method_id": r["payment_method_id"], "amount": r["amount"]}
                for r in db.execute("SELECT * FROM payments WHERE order_id = ? ORDER BY seq", (order_id,))]
    out = {"order_id": order_id, "user_id": order["user_id"], "status": order["status"],
           "placed_on": order["placed_on"], "address": {k: order[k] for k in _ADDRESS}, "items": items,
           "payments": payments}
    if order["cancel_reason"]:
        out["cancel_reason"] = order["cancel_reason"]
    return out


def list_products() -> dict:
    """List the store's products by name.

    Returns:
        A mapping of product name to product id.
    """
    return {r["name"]: r["product_id"] for r in _db().execute("SELECT * FROM products ORDER BY name")}


def get_product_details(product_id: str) -> dict:
    """Get a product's variants: each item id with its options, price and whether it is in stock.

    Args:
        product_id: the product id, e.g. '6086499569'.

    Returns:
        The product's name and variants.
    """
    db = _db()
    product = _one(db, "SELECT * FROM products WHERE product_id = ?", (product_id,),
                   f"product {product_id!r} not found (an item id is not a product id; list_products gives them)")
    variants = {r["item_id"]: {"options": json.loads(r["options"]), "price": r["price"], "available": r["stock"] > 0}
                for r in db.execute("SELECT * FROM variants WHERE product_id = ? ORDER BY item_id", (product_id,))}
    return {"product_id": product_id, "name": product["name"], "variants": variants}


def cancel_pending_order(order_id: str, reason: Literal["no longer needed", "ordered by mistake"]) -> dict:
    """Cancel a pending order; the payment is refunded to the original payment method.

    Args:
        order_id: the order id, e.g. '#W1234567'.
        reason: why the customer cancels.

    Returns:
        The order's details after the cancellation.
    """
    if reason not in ("no longer needed", "ordered by mistake"):
        raise ValueError(f"reason must be 'no longer needed' or 'ordered by mistake', not {reason!r}")
    with _change() as db:
        order = _order(db, order_id)
        if not order["status"].startswith("pending"):
            raise ValueError(f"order {order_id!r} is {order['status']}; only pending orders can be cancelled")
        for r in db.execute("SELECT * FROM payments WHERE order_id = ? ORDER BY seq", (order_id,)).fetchall():
            method = dict(db.execute("SELECT * FROM payment_methods WHERE payment_method_id = ?",
                                     (r["payment_method_id"],)).fetchone())
            _record_payment(db, order_id, "payment" if r["kind"] == "refund" else "refund", method, r["amount"])
        for r in db.execute("SELECT item_id FROM order_items WHERE order_id = ?", (order_id,)).fetchall():
            db.execute("UPDATE variants SET stock = stock + 1 WHERE item_id = ?", (r[0],))
        db.execute("UPDATE orders SET status = 'cancelled', cancel_reason = ? WHERE order_id = ?", (reason, order_id))
    return get_order_details(order_id)


def modify_pending_order_address(order_id: str, address1: str, address2: str, city: str, state: str, country: str,
                                 zip: str) -> dict:
    """Change the shipping address of a pending order.

    Args:
        order_id: the order id, e.g. '#W1234567'.
        address1: the first line of the address, e.g. '123 Main Street'.
        address2: the second line of the address, e.g. 'Apt 4' (empty when none).
        city: the city, e.g. 'Austin'.
        state: the state, e.g. 'TX'.
        country: the country, e.g. 'USA'.
        zip: the zip code, e.g. '78701'.

    Returns:
        The order's details after the change.
    """
    with _change() as db:
        order = _order(db, order_id)
        if not order["status"].startswith("pending"):
            raise ValueError(f"order {order_id!r} is {order['status']}; only a pending order's address can change")
        db.execute("UPDATE orders SET address1 = ?, address2 = ?, city = ?, state = ?, country = ?, zip = ? "
                   "WHERE order_id = ?", (address1, address2, city, state, country, zip, order_id))
    return get_order_details(order_id)


def modify_user_address(user_id: str, address1: str, address2: str, city: str, state: str, country: str,
                        zip: str) -> dict:
    """Change a customer's default address (existing orders keep theirs).

    Args:
        user_id: the user id, e.g. 'mia_garcia_4516'.
        address1: the first line of the address, e.g. '123 Main Street'.
        address2: the second line of the address, e.g. 'Apt 4' (empty when none).
        city: the city, e.g. 'Austin'.
        state: the state, e.g. 'TX'.
        country: the country, e.g. 'USA'.
        zip: the zip code, e.g. '78701'.

    Returns:
        The customer's details after the change.
    """
    with _change() as db:
        _user(db, user_id)
        db.execute("UPDATE users SET address1 = ?, address2 = ?, city = ?, state = ?, country = ?, zip = ? "
                   "WHERE user_id = ?", (address1, address2, city, state, country, zip, user_id))
    return get_user_details(user_id)


def modify_pending_order_items(order_id: str, item_ids: list[str], new_item_ids: list[str],
                               payment_method_id: str) -> dict:
    """Swap items of a pending order for other options of the same products (once per order).

    Args:
        order_id: the order id, e.g. '#W1234567'.
        item_ids: the item ids in the order to swap, e.g. ['1008292230'].
        new_item_ids: the item ids to swap them for, in the same order, e.g. ['1008292231'].
        payment_method_id: the customer's payment method that pays or receives the price difference.

    Returns:
        The order's details after the change.
    """
    with _change() as db:
        order = _order(db, order_id)
        if order["status"] != "pending":
            raise ValueError(f"order {order_id!r} is {order['status']}; only a pending order never modified before "
                             "can have its items modified")
        method = _payment_method(db, order["user_id"], payment_method_id)
        lines = _pick_lines(db, order_id, item_ids)
        news = _swap_variants(db, lines, new_item_ids)
        difference = round(sum(n["price"] for n in news) - sum(ln["price"] for ln in lines), 2)
        if difference:
            _record_payment(db, order_id, "payment" if difference > 0 else "refund", method, abs(difference))
        for line, new in zip(lines, news):
            db.execute("UPDATE variants SET stock = stock + 1 WHERE item_id = ?", (line["item_id"],))
            db.execute("UPDATE variants SET stock = stock - 1 WHERE item_id = ?", (new["item_id"],))
            db.execute("UPDATE order_items SET item_id = ?, price = ? WHERE order_id = ? AND line = ?",
                       (new["item_id"], new["price"], order_id, line["line"]))
        db.execute("UPDATE orders SET status = 'pending (items modified)' WHERE order_id = ?", (order_id,))
    return get_order_details(order_id)


def return_delivered_order_items(order_id: str, item_ids: list[str], payment_method_id: str) -> dict:
    """Request a return of items of a delivered order; the refund goes to the original payment method or a gift card.

    Args:
        order_id: the order id, e.g. '#W1234567'.
        item_ids: the item ids to return, e.g. ['1008292230'].
        payment_method_id: where the refund goes: the order's original payment method or one of the customer's gift cards.

    Returns:
        The order's details after the request.
    """
    with _change() as db:
        order = _order(db, order_id)
        if order["status"] != "delivered":
            raise ValueError(f"order {order_id!r} is {order['status']}; only delivered orders can be returned")
        method = _payment_method(db, order["user_id"], payment_method_id)
        if method["payment_method_id"] != _paid_with(db, order_id)["payment_method_id"] and method["kind"] != "gift_card":
            raise ValueError("the refund must go to the order's original payment method or a gift card")
        lines = _pick_lines(db, order_id, item_ids)
        if not lines:
            raise ValueError("item_ids is empty: name at least one item to return")
        _record_payment(db, order_id, "refund", method, sum(ln["price"] for ln in lines))
        for line in lines:
            db.execute("UPDATE order_items SET status = 'return requested' WHERE order_id = ? AND line = ?",
                       (order_id, line["line"]))
        db.execute("UPDATE orders SET status = 'return requested' WHERE order_id = ?", (order_id,))
    return get_order_details(order_id)


def exchange_delivered_order_items(order_id: str, item_ids: list[str], new_item_ids: list[str],
                                   payment_method_id: str) -> dict:
    """Request an exchange of items of a delivered order for other options of the same products.

    Args:
        order_id: the order id, e.g. '#W1234567'.
        item_ids: the item ids in the order to exchange, e.g. ['1008292230'].
        new_item_ids: the item ids to exchange them for, in the same order, e.g. ['1008292231'].
        payment_method_id: the customer's payment method that pays or receives the price difference.

    Returns:
        The order's details after the request.
    """
    with _change() as db:
        order = _order(db, order_id)
        if order["status"] != "delivered":
            raise ValueError(f"order {order_id!r} is {order['status']}; only delivered orders can be exchanged")
        method = _payment_method(db, order["user_id"], payment_method_id)
        lines = _pick_lines(db, order_id, item_ids)
        if not lines:
            raise ValueError("item_ids is empty: name at least one item to exchange")
        news = _swap_variants(db, lines, new_item_ids)
        difference = round(sum(n["price"] for n in news) - sum(ln["price"] for ln in lines), 2)
        if difference:
            _record_payment(db, order_id, "payment" if difference > 0 else "refund", method, abs(difference))
        for line, new in zip(lines, news):
            db.execute("UPDATE variants SET stock = stock - 1 WHERE item_id = ?", (new["item_id"],))
            db.execute("UPDATE order_items SET status = 'exchange requested', new_item_id = ? WHERE order_id = ? "
                       "AND line = ?", (new["item_id"], order_id, line["line"]))
        db.execute("UPDATE orders SET status = 'exchange requested' WHERE order_id = ?", (order_id,))
    return get_order_details(order_id)


def transfer_to_human_agents(summary: str) -> str:
    """Hand the conversation to a human agent, with a summary of the customer's issue.

    Args:
        summary: a short summary of the customer's request and what was done.

    Returns:
        A confirmation that the customer was transferred.
    """
    if not summary.strip():
        raise ValueError("summary is empty: say what the customer needs")
    return "Transfer successful"


def dump_environment_state(table: str | None = None) -> dict:
    """Read out the environment state (the environment's own check; never offered to an agent).

    Args:
        table: one table to read, in columnar form; None reads every table as rows.

    Returns:
        {"columns": [...], "rows": [[...], ...]} for one table, else {table: [row, ...]} for all.
    """
    db = _db()
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    if table is not None:
        if table not in tables:
            raise ValueError(f"no table {table!r}")
        cursor = db.execute(f"SELECT * FROM {table} ORDER BY rowid")
        return {"columns": [c[0] for c in cursor.description], "rows": [list(r) for r in cursor]}
    return {t: [dict(r) for r in db.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in tables}
