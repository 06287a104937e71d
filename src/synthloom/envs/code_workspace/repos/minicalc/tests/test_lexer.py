from minicalc import tokenize


def test_numbers_names_and_operators():
    tokens = tokenize("x1 + 2.5*(y - 3)")
    assert [t.value for t in tokens] == ["x1", "+", 2.5, "*", "(", "y", "-", 3, ")"]
    assert [t.kind for t in tokens[:3]] == ["name", "op", "number"]


def test_power_operator_is_one_token():
    assert [(t.kind, t.value) for t in tokenize("2**3")] == [("number", 2), ("op", "**"), ("number", 3)]


def test_leading_dot_number():
    assert tokenize(".5")[0].value == 0.5


def test_bad_character():
    try:
        tokenize("2 $ 3")
    except ValueError as error:
        assert "at 2" in str(error)
    else:
        raise AssertionError("expected a ValueError")
