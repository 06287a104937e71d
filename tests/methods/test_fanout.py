"""The fan-out bound the built-in recipes tie to ``-n``."""

from __future__ import annotations

import pytest

from synthloom.methods.fanout import bounded, check_max_fanout


def test_bounded_caps_a_count_and_none_leaves_it():
    assert bounded(8, 3) == 3 and bounded(2, 3) == 2 and bounded(8, None) == 8


def test_check_max_fanout_accepts_none_and_positive_ints_only():
    assert check_max_fanout(None) is None and check_max_fanout(3) == 3 and check_max_fanout("4") == 4
    for bad in (0, -1):
        with pytest.raises(ValueError, match="max_fanout must be >= 1"):
            check_max_fanout(bad)
