from inifile import dump, parse


def test_dump_sections():
    text = dump({"server": {"host": "example.org", "port": 8080}})
    assert text == "[server]\nhost = example.org\nport = 8080\n"


def test_dump_formats_bools_and_lists():
    text = dump({"a": {"debug": True, "quiet": False, "names": ["x", "y"]}})
    assert "debug = true" in text
    assert "quiet = false" in text
    assert "names = x, y" in text


def test_dump_skips_values_equal_to_defaults():
    config = {"DEFAULT": {"timeout": "5"}, "fast": {"timeout": "1"}, "slow": {"timeout": "5"}}
    text = dump(config)
    assert text.startswith("[DEFAULT]\ntimeout = 5\n")
    assert "[fast]\ntimeout = 1\n" in text
    assert "[slow]\n" in text and text.count("timeout") == 2


def test_round_trip():
    original = "[a]\nk = v\nlines = one\n    two\n\n[b]\nx = 1\n"
    assert parse(dump(parse(original))) == parse(original)
