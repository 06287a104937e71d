from ledger import format_cents, parse_amount


def test_format_cents():
    assert format_cents(0) == "0.00"
    assert format_cents(5) == "0.05"
    assert format_cents(123456) == "1,234.56"
    assert format_cents(100000000) == "1,000,000.00"
    assert format_cents(-2550) == "-25.50"


def test_parse_amount():
    assert parse_amount("12") == 1200
    assert parse_amount("1,234.5") == 123450
    assert parse_amount(" -0.07 ") == -7
    assert parse_amount("3.") == 300


def test_parse_amount_rejects_bad_text():
    for text in ("", "1.234", "abc", "1.2x", "--5"):
        try:
            parse_amount(text)
        except ValueError:
            continue
        raise AssertionError(f"expected a ValueError for {text!r}")
