"""Dates and time zones: calendar arithmetic (days and business days between dates, adding days), weekdays, ISO
weeks, ages, leap years, durations, and conversions between IANA time zones (``zoneinfo``).

No tool reads the clock: every tool is a pure function of its arguments, so the same call always gives the same
answer. Dates are ISO 8601 text (``YYYY-MM-DD``), date-times ``YYYY-MM-DDTHH:MM[:SS]``; years run from 1 to 9999.
Time-zone rules come from the system's IANA tz database.
"""

import datetime as _dt
import difflib
import re
import zoneinfo

CATEGORY = "dates"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MAX_BUSINESS_DAYS = 10_000
_MAX_HOLIDAYS = 1000
_ZONE_NAMES: list[str] = []


def _date(text: str, what: str) -> _dt.date:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be an ISO date YYYY-MM-DD, not {text!r}")
    try:
        return _dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} must be an ISO date YYYY-MM-DD (e.g. 2024-03-15), not {text!r}") from None


def _datetime(text: str, what: str) -> _dt.datetime:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be an ISO date-time YYYY-MM-DDTHH:MM[:SS], not {text!r}")
    try:
        return _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} must be an ISO date-time YYYY-MM-DDTHH:MM[:SS] (e.g. 2024-03-15T14:30), not {text!r}") from None


def _int(value: int, what: str, limit: int, low: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    low = -limit if low is None else low
    if not low <= value <= limit:
        raise ValueError(f"{what} must be between {low} and {limit}, not {value}")
    return value


def _shift(start: _dt.date, days: int) -> _dt.date:
    try:
        return start + _dt.timedelta(days=days)
    except OverflowError:
        raise ValueError("the resulting date falls outside the years 1 to 9999") from None


def _zone(name: str, what: str) -> zoneinfo.ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} must be an IANA time-zone name such as 'Europe/Paris', not {name!r}")
    key = name.strip()
    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        pass
    if not _ZONE_NAMES:
        _ZONE_NAMES.extend(sorted(zoneinfo.available_timezones()))
    by_lower = {z.lower(): z for z in _ZONE_NAMES}
    close = [by_lower[key.lower()]] if key.lower() in by_lower else difflib.get_close_matches(key, _ZONE_NAMES, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else " (use an IANA name such as 'America/New_York' or 'UTC')"
    raise ValueError(f"{what}: unknown time zone {key!r}{hint}")


def _offset_text(offset: _dt.timedelta | None) -> str:
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours:02d}:{rest // 60:02d}"


def _localize(naive: _dt.datetime, zone: zoneinfo.ZoneInfo, what: str) -> tuple[_dt.datetime, bool]:
    """The zone-aware time for a wall-clock time: refuses times skipped by a daylight-saving jump; for a repeated
    (ambiguous) time takes the first occurrence and says so."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    round_trip = first.astimezone(_dt.UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:
        raise ValueError(f"{what} {naive.isoformat()} does not exist in {zone.key} (skipped by a daylight-saving change); "
                         f"pick a time outside the gap")
    return first, first.utcoffset() != second.utcoffset()


def days_between(start_date: str, end_date: str) -> int:
    """The number of days from one date to another (negative when end_date is earlier).

    Args:
        start_date: the first date, YYYY-MM-DD.
        end_date: the second date, YYYY-MM-DD.

    Returns:
        end_date minus start_date in days.
    """
    return (_date(end_date, "end_date") - _date(start_date, "start_date")).days


def add_days(start_date: str, days: int) -> str:
    """Add (or, with a negative number, subtract) calendar days to a date.

    Args:
        start_date: the date to start from, YYYY-MM-DD.
        days: the number of days to add (negative to go back).

    Returns:
        The resulting date, YYYY-MM-DD.
    """
    return _shift(_date(start_date, "start_date"), _int(days, "days", 3_650_000)).isoformat()


def _holidays(holidays: list[str] | None) -> set[_dt.date]:
    if holidays is None:
        return set()
    if not isinstance(holidays, (list, tuple)) or len(holidays) > _MAX_HOLIDAYS:
        raise ValueError(f"holidays must be a list of at most {_MAX_HOLIDAYS} dates YYYY-MM-DD")
    return {_date(h, "holidays") for h in holidays}


def add_business_days(start_date: str, days: int, holidays: list[str] | None = None) -> str:
    """Move a number of business days (Monday to Friday, skipping the given holidays) forward or back from a date.

    Args:
        start_date: the date to start from, YYYY-MM-DD (it is not counted itself).
        days: business days to add, -10000 to 10000 (negative to go back; 0 returns start_date).
        holidays: dates YYYY-MM-DD that are not business days (optional).

    Returns:
        The resulting date, YYYY-MM-DD.
    """
    current = _date(start_date, "start_date")
    remaining = _int(days, "days", _MAX_BUSINESS_DAYS)
    skip = _holidays(holidays)
    step = 1 if remaining > 0 else -1
    while remaining:
        current = _shift(current, step)
        if current.weekday() < 5 and current not in skip:
            remaining -= step
    return current.isoformat()


def business_days_between(start_date: str, end_date: str, holidays: list[str] | None = None) -> int:
    """Count the business days (Monday to Friday, less holidays) after start_date up to and including end_date.

    Args:
        start_date: the first date, YYYY-MM-DD (not counted).
        end_date: the last date, YYYY-MM-DD (counted; when earlier than start_date the count is negative).
        holidays: dates YYYY-MM-DD that are not business days (optional).

    Returns:
        The number of business days, so that add_business_days(start_date, n) lands on end_date when it is a business day.
    """
    a, b = _date(start_date, "start_date"), _date(end_date, "end_date")
    skip = _holidays(holidays)
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    span = (b - a).days
    count = span // 7 * 5
    day = a + _dt.timedelta(days=span // 7 * 7)
    while day < b:
        day += _dt.timedelta(days=1)
        count += day.weekday() < 5
    count -= sum(1 for h in skip if a < h <= b and h.weekday() < 5)
    return sign * count


def weekday_of(date: str) -> str:
    """The day of the week of a date.

    Args:
        date: the date, YYYY-MM-DD.

    Returns:
        The weekday's English name, e.g. "Monday".
    """
    return _WEEKDAYS[_date(date, "date").weekday()]


def iso_week(date: str) -> dict:
    """The ISO 8601 week of a date (weeks start on Monday; week 1 holds the year's first Thursday).

    Args:
        date: the date, YYYY-MM-DD.

    Returns:
        An object {"iso_year": int, "week": int, "weekday": int (1 = Monday ... 7 = Sunday), "label": "2024-W01-1"}.
    """
    year, week, weekday = _date(date, "date").isocalendar()
    return {"iso_year": year, "week": week, "weekday": weekday, "label": f"{year:04d}-W{week:02d}-{weekday}"}


def day_of_year(date: str) -> int:
    """The ordinal day of a date within its year (January 1 is day 1).

    Args:
        date: the date, YYYY-MM-DD.

    Returns:
        The day of the year, 1 to 366.
    """
    return _date(date, "date").timetuple().tm_yday


def age_on_date(birth_date: str, on_date: str) -> int:
    """A person's age in completed years on a given date (someone born on February 29 turns a year older on March 1
    in common years).

    Args:
        birth_date: the date of birth, YYYY-MM-DD.
        on_date: the date at which to measure the age, YYYY-MM-DD (not before birth_date).

    Returns:
        The age in whole years.
    """
    born, on = _date(birth_date, "birth_date"), _date(on_date, "on_date")
    if on < born:
        raise ValueError(f"on_date {on} is before birth_date {born}")
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def is_leap_year(year: int) -> bool:
    """Whether a year is a leap year in the (proleptic) Gregorian calendar.

    Args:
        year: the year, e.g. 2024 (within ±1,000,000).

    Returns:
        True for a leap year (divisible by 4, except centuries not divisible by 400).
    """
    y = _int(year, "year", 1_000_000)
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    """The number of days in a month of a given year.

    Args:
        year: the year, 1 to 9999.
        month: the month, 1 (January) to 12 (December).

    Returns:
        28 to 31.
    """
    y, m = _int(year, "year", 9999, low=1), _int(month, "month", 12, low=1)
    following = _dt.date(y + 1, 1, 1) if m == 12 else _dt.date(y, m + 1, 1)
    return (following - _dt.date(y, m, 1)).days


def convert_timezone(local_datetime: str, from_zone: str, to_zone: str) -> dict:
    """Convert a wall-clock date-time from one IANA time zone to another, honouring daylight-saving rules of that date.

    Args:
        local_datetime: the wall-clock time in from_zone, YYYY-MM-DDTHH:MM[:SS] (an explicit offset must match from_zone).
        from_zone: the IANA zone of local_datetime, e.g. "America/New_York" or "UTC".
        to_zone: the IANA zone to convert to, e.g. "Asia/Tokyo".

    Returns:
        An object {"datetime": ISO time with offset in to_zone, "zone", "utc_offset": "+09:00", "abbreviation",
        "utc": the same instant in UTC, "ambiguous": true when the source time occurs twice (the first is used)}.
    """
    parsed = _datetime(local_datetime, "local_datetime")
    source, target = _zone(from_zone, "from_zone"), _zone(to_zone, "to_zone")
    aware, ambiguous = _localize(parsed.replace(tzinfo=None), source, "local_datetime")
    if parsed.tzinfo is not None:
        if parsed.utcoffset() != aware.utcoffset() and parsed.utcoffset() != aware.replace(fold=1).utcoffset():
            raise ValueError(f"local_datetime carries offset {_offset_text(parsed.utcoffset())}, but {source.key} is at "
                             f"{_offset_text(aware.utcoffset())} then; drop the offset or fix from_zone")
        aware, ambiguous = parsed.astimezone(source), False
    converted = aware.astimezone(target)
    return {
        "datetime": converted.isoformat(),
        "zone": target.key,
        "utc_offset": _offset_text(converted.utcoffset()),
        "abbreviation": converted.tzname() or "",
        "utc": aware.astimezone(_dt.UTC).isoformat(),
        "ambiguous": ambiguous,
    }


def utc_offset_of_zone(zone: str, local_datetime: str) -> dict:
    """The UTC offset and abbreviation an IANA time zone uses at a given wall-clock time (daylight saving included).

    Args:
        zone: the IANA zone name, e.g. "Europe/London".
        local_datetime: the wall-clock time in that zone, YYYY-MM-DDTHH:MM[:SS] (or a date, meaning midnight).

    Returns:
        An object {"zone", "utc_offset": "+01:00", "abbreviation": "BST", "dst": whether daylight saving is in effect}.
    """
    tz = _zone(zone, "zone")
    parsed = _datetime(local_datetime, "local_datetime")
    aware, _ = _localize(parsed.replace(tzinfo=None), tz, "local_datetime")
    dst = aware.dst()
    return {"zone": tz.key, "utc_offset": _offset_text(aware.utcoffset()), "abbreviation": aware.tzname() or "",
            "dst": bool(dst)}


_ISO_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$", re.I)
_CLOCK = re.compile(r"^(\d+):([0-5]?\d)(?::([0-5]?\d(?:\.\d+)?))?$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)", re.I)
_UNIT_SECONDS = {
    "w": 604800, "wk": 604800, "wks": 604800, "week": 604800, "weeks": 604800,
    "d": 86400, "day": 86400, "days": 86400,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
}


def _duration_seconds(text: str) -> float:
    iso = _ISO_DURATION.match(text)
    if iso and text.upper() not in ("P", "PT") and not text.upper().endswith("T"):
        factors = {"weeks": 604800, "days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
        return sum(float(v) * factors[k] for k, v in iso.groupdict().items() if v)
    if text[:1] in ("P", "p"):
        if re.search(r"[YM]", re.split(r"[Tt]", text, maxsplit=1)[0], re.I):
            raise ValueError(f"duration {text!r} uses years or months, which have no fixed length; give weeks, days, hours, "
                             "minutes and seconds")
        raise ValueError(f"cannot read the ISO 8601 duration {text!r}; write e.g. 'PT1H30M' or 'P2DT3H'")
    clock = _CLOCK.match(text)
    if clock:
        return int(clock.group(1)) * 3600 + int(clock.group(2)) * 60 + float(clock.group(3) or 0)
    rest = re.sub(r"\band\b|,", " ", text.lower())
    total, matched = 0.0, 0
    for m in _PART.finditer(rest):
        unit = m.group(2)
        if unit not in _UNIT_SECONDS:
            raise ValueError(f"unknown duration unit {unit!r} in {text!r}; use weeks, days, hours, minutes, seconds or ms")
        total += float(m.group(1)) * _UNIT_SECONDS[unit]
        matched += 1
    if not matched or _PART.sub("", rest).strip():
        raise ValueError(f"cannot read the duration {text!r}; write e.g. '1h 30m', '2 days 3 hours', '01:30:00' or 'PT1H30M'")
    return total


def parse_duration(text: str) -> dict:
    """Read a duration written as ISO 8601 ("PT1H30M", "P2DT3H"), a clock ("1:30:00", hours:minutes[:seconds]) or words
    ("1h 30m", "2 days, 3 hours and 5 minutes") and break it down.

    Args:
        text: the duration (up to 200 characters; years and months are refused because their length varies).

    Returns:
        An object {"total_seconds": number, "days", "hours", "minutes", "seconds" (the normalised breakdown),
        "iso8601": the normalised ISO form, e.g. "P1DT2H"}.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text must be a non-empty duration such as '1h 30m' or 'PT1H30M'")
    if len(text) > 200:
        raise ValueError(f"text is {len(text)} characters long; at most 200 are allowed")
    total = _duration_seconds(text.strip())
    if total > 1e12:
        raise ValueError("the duration exceeds 10^12 seconds; use a shorter duration")
    total = round(total, 6)
    whole = int(total)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    seconds = round(secs + (total - whole), 6)
    seconds_out = int(seconds) if float(seconds).is_integer() else seconds
    time_part = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (seconds_out, "S")) if v)
    iso = "P" + (f"{days}D" if days else "") + (f"T{time_part}" if time_part else "")
    return {"total_seconds": int(total) if float(total).is_integer() else total, "days": days, "hours": hours,
            "minutes": minutes, "seconds": seconds_out, "iso8601": iso if iso != "P" else "PT0S"}
