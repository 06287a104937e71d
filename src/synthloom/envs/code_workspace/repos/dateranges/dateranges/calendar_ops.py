"""Calendar operations over several ranges."""

import datetime

from dateranges.ranges import DateRange

SATURDAY = 5


def merge(ranges):
    """The fewest ranges covering the same days: overlapping or adjacent ranges are joined; sorted by start."""
    ordered = sorted(ranges, key=lambda r: (r.start, r.end))
    merged = []
    for current in ordered:
        if merged and current.start <= merged[-1].end + datetime.timedelta(days=1):
            last = merged[-1]
            merged[-1] = DateRange(last.start, max(last.end, current.end))
        else:
            merged.append(current)
    return merged


def business_days(date_range, holidays=()):
    """The number of Monday-to-Friday days in the range that are not holidays."""
    skip = set(holidays)
    count = 0
    for day in date_range.dates():
        if day.weekday() < SATURDAY and day not in skip:
            count += 1
    return count


def split_by_month(date_range):
    """The range cut at month boundaries, one piece per calendar month."""
    pieces = []
    start = date_range.start
    while start <= date_range.end:
        if start.month == 12:
            next_month = datetime.date(start.year + 1, 1, 1)
        else:
            next_month = datetime.date(start.year, start.month + 1, 1)
        end = min(date_range.end, next_month - datetime.timedelta(days=1))
        pieces.append(DateRange(start, end))
        start = next_month
    return pieces
