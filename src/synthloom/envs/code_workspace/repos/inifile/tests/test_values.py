from inifile import coerce, parse_bool, parse_list


def test_parse_bool_words():
    assert parse_bool("Yes") is True
    assert parse_bool("off") is False
    assert parse_bool(" 1 ") is True
    assert parse_bool("0") is False


def test_parse_bool_rejects_other_words():
    try:
        parse_bool("maybe")
    except ValueError:
        pass
    else:
        raise AssertionError("expected a ValueError")


def test_parse_list_splits_and_drops_empty_items():
    assert parse_list("a, b,,c ,") == ["a", "b", "c"]
    assert parse_list("a\nb, c") == ["a", "b", "c"]
    assert parse_list("x|y", separator="|") == ["x", "y"]


def test_coerce_numbers():
    assert coerce("42") == 42
    assert coerce("-7") == -7
    assert coerce("+3") == 3
    assert coerce("2.5") == 2.5
    assert coerce("-0.5") == -0.5


def test_coerce_bools_lists_and_strings():
    assert coerce("true") is True
    assert coerce("no") is False
    assert coerce("1, 2, three") == [1, 2, "three"]
    assert coerce("hello") == "hello"
    assert coerce("1.2.3") == "1.2.3"
    assert coerce("  ") == ""
