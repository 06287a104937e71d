from minicalc import EvaluationError, evaluate


def test_arithmetic():
    assert evaluate("1 + 2 * 3") == 7
    assert evaluate("(1 + 2) * 3") == 9
    assert evaluate("10 - 4 - 3") == 3
    assert evaluate("7 % 3") == 1


def test_division():
    assert evaluate("8 / 2") == 4
    assert isinstance(evaluate("8 / 2"), int)
    assert evaluate("7 / 2") == 3.5


def test_power_right_associative_and_unary_minus():
    assert evaluate("2 ** 3 ** 2") == 512
    assert evaluate("-2 ** 2") == -4
    assert evaluate("2 ** -1") == 0.5
    assert evaluate("--3") == 3


def test_variables_and_functions():
    assert evaluate("rate * hours", {"rate": 12, "hours": 3}) == 36
    assert evaluate("max(1, 5, 3) + min(4, 2)") == 7
    assert evaluate("sqrt(16) + abs(-2)") == 6
    assert evaluate("round(2.567, 2)") == 2.57


def test_errors():
    for text, variables in (("1 / 0", None), ("5 % 0", None), ("y + 1", {"x": 1}), ("nope(1)", None),
                            ("sqrt(-1)", None), ("abs(1, 2)", None), ("max()", None)):
        try:
            evaluate(text, variables)
        except EvaluationError:
            continue
        raise AssertionError(f"expected an EvaluationError for {text!r}")
