import datetime

from dateranges import DateRange, format_range, parse_date, parse_range

D = datetime.date


def test_parse_date():
    assert parse_date(" 2024-02-29 ") == D(2024, 2, 29)


def test_parse_date_rejects_bad_text():
    for text in ("2024/01/01", "24-01-01", "2024-1", "2024-02-30"):
        try:
            parse_date(text)
        except ValueError:
            continue
        raise AssertionError(f"expected a ValueError for {text!r}")


def test_parse_range_and_single_day():
    assert parse_range("2024-01-01..2024-01-31") == DateRange(D(2024, 1, 1), D(2024, 1, 31))
    assert parse_range("2024-05-05") == DateRange(D(2024, 5, 5), D(2024, 5, 5))


def test_format_round_trip():
    for text in ("2024-01-01..2024-03-31", "2024-07-04"):
        assert format_range(parse_range(text)) == text
