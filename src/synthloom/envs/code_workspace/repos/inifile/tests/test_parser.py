from inifile import ParseError, parse


def test_sections_and_keys():
    config = parse("[server]\nhost = example.org\nport = 8080\n")
    assert config == {"server": {"host": "example.org", "port": "8080"}}


def test_keys_are_lowercased_and_values_stripped():
    config = parse("[a]\n  Name   =   Alice  \n")
    assert config["a"] == {"name": "Alice"}


def test_colon_separator_and_first_separator_wins():
    config = parse("[a]\nurl: http://x.org/?q=1\n")
    assert config["a"]["url"] == "http://x.org/?q=1"


def test_comments_and_blank_lines_ignored():
    text = "# top\n[a]\n; note\n\nkey = value ; trailing\n"
    assert parse(text) == {"a": {"key": "value"}}


def test_defaults_are_inherited_but_overridable():
    text = "timeout = 5\nretries = 2\n[fast]\ntimeout = 1\n[slow]\n"
    config = parse(text)
    assert config["fast"] == {"timeout": "1", "retries": "2"}
    assert config["slow"] == {"timeout": "5", "retries": "2"}
    assert config["DEFAULT"] == {"timeout": "5", "retries": "2"}


def test_continuation_lines():
    config = parse("[a]\npaths = one\n  two\n  three\n")
    assert config["a"]["paths"] == "one\ntwo\nthree"


def test_bad_line_reports_its_number():
    try:
        parse("[a]\nok = 1\nnot a pair\n")
    except ParseError as error:
        assert str(error).startswith("line 3:")
    else:
        raise AssertionError("expected a ParseError")


def test_bad_section_header():
    for text in ("[a\nk = v\n", "[]\n"):
        try:
            parse(text)
        except ParseError as error:
            assert str(error).startswith("line 1:")
        else:
            raise AssertionError(f"expected a ParseError for {text!r}")
