from minicalc import ParseError, parse


def test_precedence():
    assert parse("1 + 2 * 3") == ("binary", "+", ("number", 1), ("binary", "*", ("number", 2), ("number", 3)))


def test_left_associative_subtraction():
    assert parse("8 - 3 - 1") == ("binary", "-", ("binary", "-", ("number", 8), ("number", 3)), ("number", 1))


def test_function_calls():
    assert parse("max(1, x)") == ("call", "max", [("number", 1), ("name", "x")])
    assert parse("f()") == ("call", "f", [])


def test_errors():
    for text in ("", "1 +", "(1 + 2", "1 2", "*3"):
        try:
            parse(text)
        except ParseError:
            continue
        raise AssertionError(f"expected a ParseError for {text!r}")
