from dateranges import DateRange, parse_date


def D(year, month, day):
    return parse_date(f"{year:04d}-{month:02d}-{day:02d}")


def span(date_range):
    return f"{date_range.start.isoformat()}..{date_range.end.isoformat()}"


def test_days_counts_both_ends():
    assert DateRange(D(2024, 1, 1), D(2024, 1, 1)).days == 1
    assert DateRange(D(2024, 1, 1), D(2024, 1, 31)).days == 31
    assert DateRange(D(2024, 2, 1), D(2024, 3, 1)).days == 30


def test_end_before_start_rejected():
    try:
        DateRange(D(2024, 1, 2), D(2024, 1, 1))
    except ValueError:
        pass
    else:
        raise AssertionError("expected a ValueError")


def test_contains_edges():
    r = DateRange(D(2024, 1, 10), D(2024, 1, 20))
    assert r.contains(D(2024, 1, 10))
    assert r.contains(D(2024, 1, 20))
    assert not r.contains(D(2024, 1, 9))
    assert not r.contains(D(2024, 1, 21))


def test_overlaps_and_intersection():
    a = DateRange(D(2024, 1, 1), D(2024, 1, 10))
    b = DateRange(D(2024, 1, 10), D(2024, 1, 15))
    c = DateRange(D(2024, 1, 11), D(2024, 1, 12))
    assert a.overlaps(b) and b.overlaps(a)
    assert not a.overlaps(c)
    assert span(a.intersection(b)) == "2024-01-10..2024-01-10"
    assert a.intersection(c) is None


def test_dates_with_step():
    r = DateRange(D(2024, 1, 1), D(2024, 1, 7))
    assert len(r.dates()) == 7
    assert [day.isoformat() for day in r.dates(3)] == ["2024-01-01", "2024-01-04", "2024-01-07"]


def test_shift():
    r = DateRange(D(2024, 1, 30), D(2024, 2, 2)).shift(2)
    assert span(r) == "2024-02-01..2024-02-04"
    assert r.shift(-2).start.isoformat() == "2024-01-30"
