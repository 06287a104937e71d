"""The dates-and-time-zones catalogue module: every tool on hand-checked values and on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthloom.tools.catalogue import datetime_tools as dt


def test_module_follows_the_catalogue_convention(catalogue_convention) -> None:
    catalogue_convention(dt, 7)


def test_module_never_reads_the_clock() -> None:
    source = Path(dt.__file__).read_text(encoding="utf-8")
    for clock in ("now(", "today(", "time.time", "utcnow", "import time"):
        assert clock not in source


def test_days_between_and_add_days() -> None:
    assert dt.days_between("2024-01-01", "2024-12-31") == 365
    assert dt.days_between("2024-03-01", "2024-02-01") == -29
    assert dt.add_days("2024-02-28", 1) == "2024-02-29" and dt.add_days("2023-02-28", 1) == "2023-03-01"
    assert dt.add_days("2024-03-01", -1) == "2024-02-29"
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        dt.add_days("9999-12-31", 1)
    with pytest.raises(ValueError, match=r"start_date must be an ISO date YYYY-MM-DD .*'March 5'"):
        dt.add_days("March 5", 1)
    with pytest.raises(ValueError, match="end_date must be an ISO date"):
        dt.days_between("2024-01-01", "2024-02-30")


def test_add_business_days_skips_weekends_and_holidays() -> None:
    assert dt.add_business_days("2024-03-08", 1) == "2024-03-11"   # Friday -> Monday
    assert dt.add_business_days("2024-03-04", 5) == "2024-03-11"   # Monday + one working week
    assert dt.add_business_days("2024-03-11", -1) == "2024-03-08"
    assert dt.add_business_days("2024-03-09", 1) == "2024-03-11"   # from a Saturday
    assert dt.add_business_days("2024-03-09", 0) == "2024-03-09"
    assert dt.add_business_days("2024-12-24", 1, ["2024-12-25"]) == "2024-12-26"
    with pytest.raises(ValueError, match="between -10000 and 10000"):
        dt.add_business_days("2024-01-01", 20_000)
    with pytest.raises(ValueError, match="holidays must be an ISO date"):
        dt.add_business_days("2024-01-01", 1, ["Christmas"])


def test_business_days_between_inverts_add_business_days() -> None:
    assert dt.business_days_between("2024-03-04", "2024-03-11") == 5
    assert dt.business_days_between("2024-03-11", "2024-03-04") == -5
    assert dt.business_days_between("2024-12-23", "2024-12-27", ["2024-12-25", "2024-12-28"]) == 3
    assert dt.business_days_between("2024-01-01", "2024-12-31") == 261
    for start in ("2024-03-04", "2024-03-08", "2024-03-09", "2024-03-10"):
        for n in (1, 2, 4, 5, 6, 13, 30, 250):
            assert dt.business_days_between(start, dt.add_business_days(start, n)) == n


def test_weekday_iso_week_and_day_of_year() -> None:
    assert dt.weekday_of("2000-01-01") == "Saturday" and dt.weekday_of("2024-07-04") == "Thursday"
    assert dt.iso_week("2021-01-03") == {"iso_year": 2020, "week": 53, "weekday": 7, "label": "2020-W53-7"}
    assert dt.iso_week("2024-12-30")["label"] == "2025-W01-1"
    assert dt.day_of_year("2024-12-31") == 366 and dt.day_of_year("2023-03-01") == 60


def test_age_on_date_with_a_leap_day_birthday() -> None:
    assert dt.age_on_date("1990-06-15", "2024-06-14") == 33 and dt.age_on_date("1990-06-15", "2024-06-15") == 34
    assert dt.age_on_date("2000-02-29", "2023-02-28") == 22 and dt.age_on_date("2000-02-29", "2023-03-01") == 23
    assert dt.age_on_date("2000-02-29", "2024-02-29") == 24
    with pytest.raises(ValueError, match="before birth_date"):
        dt.age_on_date("2000-01-01", "1999-12-31")


def test_leap_years_and_month_lengths() -> None:
    assert [y for y in (1900, 2000, 2023, 2024, 2100) if dt.is_leap_year(y)] == [2000, 2024]
    assert [dt.days_in_month(2024, m) for m in (1, 2, 4, 12)] == [31, 29, 30, 31] and dt.days_in_month(2023, 2) == 28
    with pytest.raises(ValueError, match="month must be between 1 and 12, not 13"):
        dt.days_in_month(2024, 13)
    with pytest.raises(ValueError, match="between 1 and 12"):
        dt.days_in_month(2024, 0)
    with pytest.raises(ValueError, match="year must be between 1 and 9999"):
        dt.days_in_month(0, 1)


def test_convert_timezone_follows_daylight_saving() -> None:
    winter = dt.convert_timezone("2024-01-15T09:00", "America/New_York", "Asia/Tokyo")
    assert winter == {"datetime": "2024-01-15T23:00:00+09:00", "zone": "Asia/Tokyo", "utc_offset": "+09:00", "abbreviation": "JST",
                      "utc": "2024-01-15T14:00:00+00:00", "ambiguous": False}
    summer = dt.convert_timezone("2024-07-15T09:00", "America/New_York", "Europe/London")
    assert summer["datetime"] == "2024-07-15T14:00:00+01:00" and summer["abbreviation"] == "BST"
    assert dt.convert_timezone("2024-01-15T12:00", "UTC", "Asia/Kathmandu")["utc_offset"] == "+05:45"
    assert dt.convert_timezone("2024-01-15T09:00-05:00", "America/New_York", "UTC")["utc"] == "2024-01-15T14:00:00+00:00"


def test_convert_timezone_gaps_folds_and_bad_zones() -> None:
    repeated = dt.convert_timezone("2024-11-03T01:30", "America/New_York", "UTC")
    assert repeated["ambiguous"] and repeated["datetime"] == "2024-11-03T05:30:00+00:00"  # the first (EDT) 01:30
    with pytest.raises(ValueError, match="does not exist in America/New_York"):
        dt.convert_timezone("2024-03-10T02:30", "America/New_York", "UTC")
    with pytest.raises(ValueError, match="from_zone: unknown time zone 'Europe/Pariss'; did you mean 'Europe/Paris'"):
        dt.convert_timezone("2024-01-01T00:00", "Europe/Pariss", "UTC")
    with pytest.raises(ValueError, match="did you mean 'Asia/Tokyo'"):
        dt.convert_timezone("2024-01-01T00:00", "UTC", "asia/tokyo")
    with pytest.raises(ValueError, match="to_zone: unknown time zone '../../etc/passwd'"):
        dt.convert_timezone("2024-01-01T00:00", "UTC", "../../etc/passwd")
    with pytest.raises(ValueError, match="offset \\+01:00, but America/New_York is at -05:00"):
        dt.convert_timezone("2024-01-15T09:00+01:00", "America/New_York", "UTC")
    with pytest.raises(ValueError, match="ISO date-time"):
        dt.convert_timezone("9am", "UTC", "UTC")


def test_utc_offset_of_zone() -> None:
    assert dt.utc_offset_of_zone("Europe/London", "2024-07-01T12:00") == {"zone": "Europe/London", "utc_offset": "+01:00",
                                                                          "abbreviation": "BST", "dst": True}
    assert dt.utc_offset_of_zone("Europe/London", "2024-01-01") == {"zone": "Europe/London", "utc_offset": "+00:00",
                                                                    "abbreviation": "GMT", "dst": False}
    assert dt.utc_offset_of_zone("America/St_Johns", "2024-01-01T12:00")["utc_offset"] == "-03:30"


@pytest.mark.parametrize(("text", "seconds", "iso"), [
    ("PT1H30M", 5400, "PT1H30M"),
    ("P2DT3H", 183600, "P2DT3H"),
    ("P1W", 604800, "P7D"),
    ("PT0.5S", 0.5, "PT0.5S"),
    ("1:30", 5400, "PT1H30M"),
    ("01:02:03", 3723, "PT1H2M3S"),
    ("1h30m", 5400, "PT1H30M"),
    ("90 min", 5400, "PT1H30M"),
    ("2 days, 3 hours and 5 minutes", 183900, "P2DT3H5M"),
    ("1.5 hours", 5400, "PT1H30M"),
    ("0 s", 0, "PT0S"),
])
def test_parse_duration(text: str, seconds: float, iso: str) -> None:
    got = dt.parse_duration(text)
    assert got["total_seconds"] == seconds and got["iso8601"] == iso
    assert got["days"] * 86400 + got["hours"] * 3600 + got["minutes"] * 60 + got["seconds"] == seconds


def test_parse_duration_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="years or months"):
        dt.parse_duration("P1Y2M")
    with pytest.raises(ValueError, match="unknown duration unit 'fortnights'"):
        dt.parse_duration("2 fortnights")
    with pytest.raises(ValueError, match="cannot read the duration"):
        dt.parse_duration("-5 min")
    with pytest.raises(ValueError, match="cannot read the ISO 8601 duration"):
        dt.parse_duration("PT")
    with pytest.raises(ValueError, match="exceeds 10\\^12 seconds"):
        dt.parse_duration("99999999 weeks")
    with pytest.raises(ValueError, match="non-empty"):
        dt.parse_duration("  ")
