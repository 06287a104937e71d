"""Date and time helpers for a booking page: durations, overlaps and week plans.

Written for synthloom's bundled seed corpus (OSS-Instruct windows, Case2Code functions).
"""

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def to_minutes(clock):
    """``"09:30"`` -> 570 minutes after midnight."""
    hours, minutes = clock.split(":")
    h, m = int(hours), int(minutes)
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"not a time of day: {clock!r}")
    return h * 60 + m


def to_clock(minutes):
    """570 -> ``"09:30"`` (minutes wrap around midnight)."""
    minutes %= 24 * 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def overlaps(first, second):
    """Whether two ``("HH:MM", "HH:MM")`` slots share any minute."""
    a_start, a_end = map(to_minutes, first)
    b_start, b_end = map(to_minutes, second)
    return a_start < b_end and b_start < a_end


def free_slots(busy, day_start="09:00", day_end="17:00"):
    """The gaps between the ``busy`` slots inside the working day, as ``(start, end)`` clock pairs."""
    cursor, end = to_minutes(day_start), to_minutes(day_end)
    gaps = []
    for start, stop in sorted(busy, key=lambda slot: to_minutes(slot[0])):
        s, e = to_minutes(start), to_minutes(stop)
        if s > cursor:
            gaps.append((to_clock(cursor), to_clock(min(s, end))))
        cursor = max(cursor, e)
    if cursor < end:
        gaps.append((to_clock(cursor), to_clock(end)))
    return gaps


def add_duration(clock, hours=0, minutes=0):
    """The clock time ``hours`` and ``minutes`` after ``clock``."""
    return to_clock(to_minutes(clock) + hours * 60 + minutes)


def weekday_after(day, days):
    """The weekday ``days`` days after ``day`` (``"Mon"`` .. ``"Sun"``)."""
    if day not in DAYS:
        raise KeyError(day)
    return DAYS[(DAYS.index(day) + days) % 7]


def book(busy, start, length_minutes):
    """Add a booking if it fits; returns the new busy list or raises ValueError on a clash."""
    slot = (start, add_duration(start, minutes=length_minutes))
    if any(overlaps(slot, other) for other in busy):
        raise ValueError(f"{slot[0]}-{slot[1]} clashes with a booking")
    return sorted([*busy, slot])


if __name__ == "__main__":
    day = [("10:00", "11:00"), ("13:30", "14:00")]
    print(free_slots(day), overlaps(("10:30", "12:00"), ("11:30", "12:30")))
    print(book(day, "11:15", 45), weekday_after("Fri", 3), add_duration("23:30", hours=1))
