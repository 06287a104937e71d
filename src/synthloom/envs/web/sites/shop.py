"""Loom Shop: a small web shop (products, search, cart, checkout, orders, a product editor) over SQLite.

One customer per episode (the cart is the site's), prices in cents. The catalogue's names are fixed (so
tutorials can name them); prices, stock and the order history are drawn from the episode's seed.
"""

from __future__ import annotations

import random
import sqlite3
from typing import Any

from .common import Reply, Request, SiteApp, document, esc, field_input, form, money, not_found, page, parse_price, redirect

NAME = "Loom Shop"
SCHEMA = """
CREATE TABLE products (product_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, category TEXT NOT NULL,
                       price_cents INTEGER NOT NULL, stock INTEGER NOT NULL, description TEXT NOT NULL);
CREATE TABLE cart_items (product_id INTEGER PRIMARY KEY, quantity INTEGER NOT NULL);
CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer TEXT NOT NULL, address TEXT NOT NULL,
                     total_cents INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE order_items (order_id INTEGER NOT NULL, product_id INTEGER NOT NULL, quantity INTEGER NOT NULL,
                          price_cents INTEGER NOT NULL, PRIMARY KEY (order_id, product_id));
"""
KEYS = {"products": ["product_id"], "cart_items": ["product_id"], "orders": ["order_id"],
        "order_items": ["order_id", "product_id"]}
CATALOGUE = [
    ("Blue Ceramic Mug", "kitchen", "A 350 ml stoneware mug with a deep blue glaze."),
    ("Copper Kettle", "kitchen", "A 1.5 litre stovetop kettle in brushed copper."),
    ("Bamboo Cutting Board", "kitchen", "A reversible board of laminated bamboo."),
    ("Cast Iron Skillet", "kitchen", "A 26 cm pre-seasoned skillet."),
    ("Wool Throw Blanket", "home", "A grey merino throw, 130 by 170 cm."),
    ("Linen Cushion Cover", "home", "A 45 cm cushion cover in washed linen."),
    ("Brass Desk Lamp", "home", "An adjustable lamp with a brass shade."),
    ("Scented Soy Candle", "home", "A cedar and vanilla candle that burns for 40 hours."),
    ("Hardcover Notebook", "stationery", "A dotted A5 notebook with 192 pages."),
    ("Fountain Pen", "stationery", "A steel-nib fountain pen with a converter."),
    ("Watercolor Set", "stationery", "Twelve half pans of artist watercolors."),
    ("Canvas Tote Bag", "accessories", "A heavy cotton tote with an inner pocket."),
]
CUSTOMERS = [("Ada Byron", "12 Analytical Row, London"), ("Grace Hopper", "3 Compiler Lane, Arlington"),
             ("Alan Turing", "9 Enigma Close, Manchester")]


def seed_rows(seed: int) -> dict[str, list[dict[str, Any]]]:
    """The shop's rows for episode ``seed``: every catalogue product (price and stock drawn from the seed) and two
    earlier orders."""
    rng = random.Random(f"shop:{seed}")
    products = [{"product_id": i, "name": n, "category": c, "price_cents": rng.randrange(400, 9000, 25),
                 "stock": rng.randint(3, 20), "description": d} for i, (n, c, d) in enumerate(CATALOGUE, 1)]
    orders, items = [], []
    for order_id in (1, 2):
        customer, address = rng.choice(CUSTOMERS)
        picked = rng.sample(products, 2)
        lines = [{"order_id": order_id, "product_id": p["product_id"], "quantity": rng.randint(1, 2),
                  "price_cents": p["price_cents"]} for p in picked]
        items += lines
        orders.append({"order_id": order_id, "customer": customer, "address": address, "status": "shipped",
                       "total_cents": sum(x["quantity"] * x["price_cents"] for x in lines)})
    return {"products": products, "cart_items": [], "orders": orders, "order_items": items}


def _layout(title: str, body: str, db: sqlite3.Connection) -> str:
    in_cart = db.execute("SELECT COALESCE(SUM(quantity), 0) FROM cart_items").fetchone()[0]
    nav = f'<a href="/">Home</a> | <a href="/cart">Cart ({in_cart})</a> | <a href="/orders">Orders</a>'
    return document(NAME, title, nav, body)


def _product_list(rows: list[sqlite3.Row]) -> str:
    if not rows:
        return "<p>No products found.</p>"
    return "<ul>" + "".join(f'<li><a href="/product/{r["product_id"]}">{esc(r["name"])}</a> — {money(r["price_cents"])}</li>'
                            for r in rows) + "</ul>"


def home(req: Request) -> Reply:
    cats = [r[0] for r in req.db.execute("SELECT DISTINCT category FROM products ORDER BY category")]
    search = '<form method="get" action="/search">' + field_input("q", "Search products") + '<button type="submit">Search</button></form>'
    links = " | ".join(f'<a href="/category/{esc(c)}">{esc(c.title())}</a>' for c in cats)
    rows = req.db.execute("SELECT * FROM products ORDER BY name").fetchall()
    return page("Welcome to Loom Shop", search, f"<p>Categories: {links}</p>", "<h2>All products</h2>", _product_list(rows))


def search(req: Request) -> Reply:
    q = req.query.get("q", "").strip()
    rows = req.db.execute("SELECT * FROM products WHERE name LIKE ? OR description LIKE ? ORDER BY name",
                          (f"%{q}%", f"%{q}%")).fetchall()
    return page(f"Search results for {q!r}", _product_list(rows))


def category(req: Request) -> Reply:
    rows = req.db.execute("SELECT * FROM products WHERE category = ? ORDER BY name", (req.args[0],)).fetchall()
    return page(f"Category: {req.args[0].title()}", _product_list(rows)) if rows else not_found(f"No category {req.args[0]}.")


def _product(req: Request, product_id: str) -> sqlite3.Row | None:
    return req.db.execute("SELECT * FROM products WHERE product_id = ?", (product_id,)).fetchone()


def product(req: Request) -> Reply:
    p = _product(req, req.args[0])
    if p is None:
        return not_found(f"No product {req.args[0]}.")
    buy = form("/cart/add", f'<input type="hidden" name="product_id" value="{p["product_id"]}">'
               + field_input("quantity", "Quantity", 1, "number"), "Add to cart")
    return page(p["name"], f"<p>Price: {money(p['price_cents'])}</p><p>In stock: {p['stock']}</p><p>{esc(p['description'])}</p>",
                buy, f'<p><a href="/admin/product/{p["product_id"]}">Edit product</a></p>')


def cart_add(req: Request) -> Reply:
    p = _product(req, req.form.get("product_id", ""))
    try:
        quantity = int(req.form.get("quantity", "1"))
    except ValueError:
        quantity = 0
    if p is None or quantity < 1:
        return Reply("<h1>Could not add to cart</h1><p>Give a quantity of at least 1.</p>", "400 Bad Request")
    req.db.execute("INSERT INTO cart_items (product_id, quantity) VALUES (?, ?) ON CONFLICT(product_id) "
                   "DO UPDATE SET quantity = quantity + excluded.quantity", (p["product_id"], quantity))
    return redirect("/cart")


def _cart(req: Request) -> list[sqlite3.Row]:
    return req.db.execute("SELECT c.product_id, c.quantity, p.name, p.price_cents, p.stock FROM cart_items c "
                          "JOIN products p USING (product_id) ORDER BY p.name").fetchall()


def cart(req: Request) -> Reply:
    rows = _cart(req)
    if not rows:
        return page("Your cart", "<p>Your cart is empty.</p>")
    lines = "".join(f"<tr><td>{esc(r['name'])}</td><td>{r['quantity']}</td><td>{money(r['price_cents'] * r['quantity'])}</td><td>"
                    + form("/cart/remove", f'<input type="hidden" name="product_id" value="{r["product_id"]}">', f"Remove {r['name']}")
                    + "</td></tr>" for r in rows)
    total = sum(r["price_cents"] * r["quantity"] for r in rows)
    return page("Your cart", f"<table><tr><th>Product</th><th>Quantity</th><th>Price</th><th></th></tr>{lines}</table>",
                f"<p>Total: {money(total)}</p>", '<p><a href="/checkout">Proceed to checkout</a></p>')


def cart_remove(req: Request) -> Reply:
    req.db.execute("DELETE FROM cart_items WHERE product_id = ?", (req.form.get("product_id", ""),))
    return redirect("/cart")


def checkout(req: Request) -> Reply:
    if not _cart(req):
        return page("Checkout", "<p>Your cart is empty: add a product first.</p>")
    return page("Checkout", form("/checkout", field_input("customer", "Full name") + field_input("address", "Shipping address"),
                                 "Place order"))


def place_order(req: Request) -> Reply:
    rows = _cart(req)
    customer, address = req.form.get("customer", "").strip(), req.form.get("address", "").strip()
    problem = ("Your cart is empty." if not rows else "Give your full name and a shipping address." if not customer or not address
               else next((f"Only {r['stock']} of {r['name']} in stock." for r in rows if r["quantity"] > r["stock"]), None))
    if problem:
        return Reply(f"<h1>Could not place the order</h1><p>{esc(problem)}</p><p><a href=\"/checkout\">Back to checkout</a></p>",
                     "400 Bad Request")
    total = sum(r["price_cents"] * r["quantity"] for r in rows)
    order_id = req.db.execute("INSERT INTO orders (customer, address, total_cents, status) VALUES (?, ?, ?, 'placed')",
                              (customer, address, total)).lastrowid
    for r in rows:
        req.db.execute("INSERT INTO order_items VALUES (?, ?, ?, ?)", (order_id, r["product_id"], r["quantity"], r["price_cents"]))
        req.db.execute("UPDATE products SET stock = stock - ? WHERE product_id = ?", (r["quantity"], r["product_id"]))
    req.db.execute("DELETE FROM cart_items")
    return redirect(f"/orders/{order_id}")


def orders(req: Request) -> Reply:
    rows = req.db.execute("SELECT * FROM orders ORDER BY order_id DESC").fetchall()
    return page("Your orders", "<ul>" + "".join(f'<li><a href="/orders/{r["order_id"]}">Order #{r["order_id"]}</a> — '
                                               f'{r["status"]}, {money(r["total_cents"])}</li>' for r in rows) + "</ul>")


def order(req: Request) -> Reply:
    o = req.db.execute("SELECT * FROM orders WHERE order_id = ?", (req.args[0],)).fetchone()
    if o is None:
        return not_found(f"No order {req.args[0]}.")
    items = req.db.execute("SELECT i.quantity, p.name FROM order_items i JOIN products p USING (product_id) WHERE order_id = ? "
                           "ORDER BY p.name", (o["order_id"],)).fetchall()
    return page(f"Order #{o['order_id']}", f"<p>Status: {o['status']}</p><p>Ship to: {esc(o['customer'])}, {esc(o['address'])}</p>",
                "<ul>" + "".join(f"<li>{i['quantity']} × {esc(i['name'])}</li>" for i in items) + "</ul>",
                f"<p>Total: {money(o['total_cents'])}</p>")


def edit_product(req: Request) -> Reply:
    p = _product(req, req.args[0])
    if p is None:
        return not_found(f"No product {req.args[0]}.")
    price = money(p["price_cents"])[1:]
    return page(f"Edit {p['name']}", form(f"/admin/product/{p['product_id']}", field_input("price", "Price (dollars)", price)
                                          + field_input("stock", "Stock", p["stock"], "number"), "Save product"))


def save_product(req: Request) -> Reply:
    p = _product(req, req.args[0])
    price = parse_price(req.form.get("price", ""))
    try:
        stock = int(req.form.get("stock", ""))
    except ValueError:
        stock = -1
    if p is None or price is None or price <= 0 or stock < 0:
        return Reply("<h1>Could not save the product</h1><p>Give a price like 12.50 and a stock of 0 or more.</p>", "400 Bad Request")
    req.db.execute("UPDATE products SET price_cents = ?, stock = ? WHERE product_id = ?", (price, stock, p["product_id"]))
    return redirect(f"/product/{p['product_id']}")


def app(db_path: str) -> SiteApp:
    """The shop as a WSGI application over the database at ``db_path``."""
    return SiteApp(db_path, [
        ("GET", r"/", home), ("GET", r"/search", search), ("GET", r"/category/([a-z]+)", category),
        ("GET", r"/product/(\d+)", product), ("POST", r"/cart/add", cart_add), ("GET", r"/cart", cart),
        ("POST", r"/cart/remove", cart_remove), ("GET", r"/checkout", checkout), ("POST", r"/checkout", place_order),
        ("GET", r"/orders", orders), ("GET", r"/orders/(\d+)", order), ("GET", r"/admin/product/(\d+)", edit_product),
        ("POST", r"/admin/product/(\d+)", save_product),
    ], _layout)
