import datetime

from dateranges import DateRange, business_days, merge, split_by_month

D = datetime.date


def test_merge_overlapping_and_adjacent():
    ranges = [DateRange(D(2024, 1, 10), D(2024, 1, 12)), DateRange(D(2024, 1, 1), D(2024, 1, 5)),
              DateRange(D(2024, 1, 6), D(2024, 1, 8)), DateRange(D(2024, 1, 11), D(2024, 1, 20))]
    assert merge(ranges) == [DateRange(D(2024, 1, 1), D(2024, 1, 8)), DateRange(D(2024, 1, 10), D(2024, 1, 20))]


def test_merge_keeps_gaps():
    ranges = [DateRange(D(2024, 1, 1), D(2024, 1, 2)), DateRange(D(2024, 1, 4), D(2024, 1, 5))]
    assert merge(ranges) == ranges
    assert merge([]) == []


def test_business_days():
    week = DateRange(D(2024, 1, 1), D(2024, 1, 7))  # Monday to Sunday
    assert business_days(week) == 5
    assert business_days(week, holidays=[D(2024, 1, 1), D(2024, 1, 6)]) == 4


def test_split_by_month():
    pieces = split_by_month(DateRange(D(2023, 12, 30), D(2024, 2, 3)))
    assert pieces == [DateRange(D(2023, 12, 30), D(2023, 12, 31)), DateRange(D(2024, 1, 1), D(2024, 1, 31)),
                      DateRange(D(2024, 2, 1), D(2024, 2, 3))]
