from dateranges import format_range, parse_date, parse_range


def span(date_range):
    return f"{date_range.start.isoformat()}..{date_range.end.isoformat()}"


def test_parse_date():
    day = parse_date(" 2024-02-29 ")
    assert (day.year, day.month, day.day) == (2024, 2, 29)


def test_parse_date_rejects_bad_text():
    for text in ("2024/01/01", "24-01-01", "2024-1", "2024-02-30"):
        try:
            parse_date(text)
        except ValueError:
            continue
        raise AssertionError(f"expected a ValueError for {text!r}")


def test_parse_range_and_single_day():
    assert span(parse_range("2024-01-01..2024-01-31")) == "2024-01-01..2024-01-31"
    assert span(parse_range("2024-05-05")) == "2024-05-05..2024-05-05"


def test_format_round_trip():
    for text in ("2024-01-01..2024-03-31", "2024-07-04"):
        assert format_range(parse_range(text)) == text
