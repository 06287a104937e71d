"""A tiny stock book for a shop: items, restocking and order checks.

Written for synthloom's bundled seed corpus (OSS-Instruct windows, Case2Code functions).
"""

from collections import defaultdict


def parse_line(line):
    """``"apple, 3, 0.5"`` -> ``("apple", 3, 0.5)``: name, quantity and unit price."""
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 3:
        raise ValueError(f"expected 3 fields, got {len(parts)}")
    name, qty, price = parts
    return name.lower(), int(qty), float(price)


def stock_from_lines(lines):
    """A stock dict ``{name: quantity}`` from CSV-like lines; repeated names add up."""
    stock = defaultdict(int)
    for line in lines:
        if line.strip() and not line.startswith("#"):
            name, qty, _ = parse_line(line)
            stock[name] += qty
    return dict(stock)


def missing_items(stock, order):
    """What an ``order`` ({name: quantity}) lacks from ``stock``, as {name: shortfall}."""
    short = {}
    for name, wanted in order.items():
        have = stock.get(name, 0)
        if wanted > have:
            short[name] = wanted - have
    return short


def apply_order(stock, order):
    """The stock after an order is shipped; an order that cannot be filled raises ValueError."""
    short = missing_items(stock, order)
    if short:
        raise ValueError(f"cannot ship, missing {sorted(short)}")
    left = dict(stock)
    for name, wanted in order.items():
        left[name] -= wanted
    return {k: v for k, v in left.items() if v > 0}


def order_total(order, prices, discount=0.0):
    """The price of an order in cents after a fractional ``discount`` (0.1 = 10 % off)."""
    if not 0 <= discount < 1:
        raise ValueError("discount must be in [0, 1)")
    cents = sum(round(prices[name] * 100) * qty for name, qty in order.items())
    return round(cents * (1 - discount))


def restock_plan(stock, minimum):
    """How many of each item to buy so that every item has at least ``minimum`` in stock."""
    return {name: minimum - qty for name, qty in sorted(stock.items()) if qty < minimum}


def checkout(lines, order):
    """Read the stock, ship the order and say what to restock afterwards."""
    stock = stock_from_lines(lines)
    left = apply_order(stock, order)
    return {"left": left, "restock": restock_plan(left, 2)}


if __name__ == "__main__":
    book = ["apple, 5, 0.4", "pear, 2, 0.6", "# comment", "apple, 1, 0.4"]
    print(missing_items({"apple": 6, "pear": 2}, {"apple": 3, "plum": 1}))
    print(checkout(book, {"apple": 4, "pear": 1}))
    print(order_total({"apple": 3, "pear": 2}, {"apple": 0.4, "pear": 0.65}, discount=0.1))
