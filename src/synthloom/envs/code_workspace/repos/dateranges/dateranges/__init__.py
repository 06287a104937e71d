"""Inclusive ranges of calendar dates: parsing, set operations and calendar arithmetic."""

from dateranges.calendar_ops import business_days, merge, split_by_month
from dateranges.parsing import format_range, parse_date, parse_range
from dateranges.ranges import DateRange

__all__ = ["DateRange", "business_days", "format_range", "merge", "parse_date", "parse_range", "split_by_month"]
