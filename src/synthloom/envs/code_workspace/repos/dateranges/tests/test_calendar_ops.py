from dateranges import DateRange, business_days, merge, parse_date, split_by_month


def D(year, month, day):
    return parse_date(f"{year:04d}-{month:02d}-{day:02d}")


def spans(ranges):
    return [f"{r.start.isoformat()}..{r.end.isoformat()}" for r in ranges]


def test_merge_overlapping_and_adjacent():
    ranges = [DateRange(D(2024, 1, 10), D(2024, 1, 12)), DateRange(D(2024, 1, 1), D(2024, 1, 5)),
              DateRange(D(2024, 1, 6), D(2024, 1, 8)), DateRange(D(2024, 1, 11), D(2024, 1, 20))]
    assert spans(merge(ranges)) == ["2024-01-01..2024-01-08", "2024-01-10..2024-01-20"]


def test_merge_keeps_gaps():
    ranges = [DateRange(D(2024, 1, 1), D(2024, 1, 2)), DateRange(D(2024, 1, 4), D(2024, 1, 5))]
    assert spans(merge(ranges)) == ["2024-01-01..2024-01-02", "2024-01-04..2024-01-05"]
    assert merge([]) == []


def test_business_days():
    week = DateRange(D(2024, 1, 1), D(2024, 1, 7))  # Monday to Sunday
    assert business_days(week) == 5
    assert business_days(week, holidays=[D(2024, 1, 1), D(2024, 1, 6)]) == 4


def test_split_by_month():
    pieces = split_by_month(DateRange(D(2023, 12, 30), D(2024, 2, 3)))
    assert spans(pieces) == ["2023-12-30..2023-12-31", "2024-01-01..2024-01-31", "2024-02-01..2024-02-03"]
