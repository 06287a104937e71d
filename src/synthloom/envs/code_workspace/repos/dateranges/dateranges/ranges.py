"""The DateRange value: an inclusive span of days."""

import datetime


class DateRange:
    """All days from ``start`` to ``end``, both included; ``end`` may not precede ``start``."""

    def __init__(self, start, end):
        if end < start:
            raise ValueError(f"range ends ({end}) before it starts ({start})")
        self.start = start
        self.end = end

    def __eq__(self, other):
        return isinstance(other, DateRange) and (self.start, self.end) == (other.start, other.end)

    def __hash__(self):
        return hash((self.start, self.end))

    def __repr__(self):
        return f"DateRange({self.start.isoformat()}, {self.end.isoformat()})"

    @property
    def days(self):
        """The number of days in the range (a one-day range has 1)."""
        return (self.end - self.start).days + 1

    def contains(self, day):
        return self.start <= day <= self.end

    def overlaps(self, other):
        """Whether the two ranges share at least one day."""
        return self.start <= other.end and other.start <= self.end

    def intersection(self, other):
        """The days both ranges hold, or None when they do not overlap."""
        if not self.overlaps(other):
            return None
        return DateRange(max(self.start, other.start), min(self.end, other.end))

    def dates(self, step=1):
        """Every ``step``-th day of the range, starting at ``start``."""
        if step < 1:
            raise ValueError("step must be >= 1")
        day = self.start
        result = []
        while day <= self.end:
            result.append(day)
            day += datetime.timedelta(days=step)
        return result

    def shift(self, days):
        """The same range moved ``days`` days later (earlier when negative)."""
        delta = datetime.timedelta(days=days)
        return DateRange(self.start + delta, self.end + delta)
