"""Amounts of money as integer cents."""


def format_cents(amount):
    """``123456`` -> ``"1,234.56"``; negative amounts get a leading minus sign."""
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(amount), 100)
    groups = []
    text = str(units)
    while len(text) > 3:
        groups.insert(0, text[-3:])
        text = text[:-3]
    groups.insert(0, text)
    return f"{sign}{','.join(groups)}.{cents:02d}"


def parse_amount(text):
    """``"1,234.5"`` -> ``123450`` cents; at most two decimals; a leading minus is allowed."""
    cleaned = text.strip().replace(",", "")
    negative = cleaned.startswith("-")
    if negative:
        cleaned = cleaned[1:]
    whole, _, fraction = cleaned.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > 2:
        raise ValueError(f"not an amount: {text!r}")
    cents = int(whole) * 100 + int(fraction.ljust(2, "0") or 0)
    return -cents if negative else cents
