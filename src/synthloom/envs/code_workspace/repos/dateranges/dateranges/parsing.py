"""Read and write date ranges as text."""

import datetime

from dateranges.ranges import DateRange

SEPARATOR = ".."


def parse_date(text):
    """A date from ``YYYY-MM-DD`` text (surrounding spaces allowed)."""
    parts = text.strip().split("-")
    if len(parts) != 3 or not all(part.isdigit() for part in parts) or len(parts[0]) != 4:
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    year, month, day = (int(part) for part in parts)
    return datetime.date(year, month, day)


def parse_range(text):
    """``start..end`` (both included), or a single date for a one-day range."""
    if SEPARATOR not in text:
        day = parse_date(text)
        return DateRange(day, day)
    start, end = text.split(SEPARATOR, 1)
    return DateRange(parse_date(start), parse_date(end))


def format_range(date_range):
    """The text form ``parse_range`` reads: ``start..end``, or one date for a one-day range."""
    if date_range.days == 1:
        return date_range.start.isoformat()
    return f"{date_range.start.isoformat()}{SEPARATOR}{date_range.end.isoformat()}"
