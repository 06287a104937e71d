"""Number helpers: rounding money, statistics over lists, ranges and digit tricks.

Written for synthloom's bundled seed corpus (OSS-Instruct windows, Case2Code functions).
"""

import math


def clamp(value, low, high):
    """``value`` limited to the closed range [low, high]."""
    if low > high:
        raise ValueError("low must not exceed high")
    return max(low, min(value, high))


def mean(values):
    """The arithmetic mean of a non-empty list."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)


def median(values):
    """The median of a non-empty list (the mean of the two middle values for an even length)."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("median of an empty list")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percent_change(old, new):
    """The change from ``old`` to ``new`` in percent, rounded to one decimal."""
    if old == 0:
        raise ZeroDivisionError("no percent change from zero")
    return round((new - old) / abs(old) * 100, 1)


def digit_sum(n):
    """The sum of the decimal digits of an integer (the sign is ignored)."""
    return sum(int(d) for d in str(abs(n)))


def is_prime(n):
    """Whether ``n`` is a prime number."""
    if n < 2:
        return False
    for k in range(2, math.isqrt(n) + 1):
        if n % k == 0:
            return False
    return True


def split_bill(total, people, tip_percent=10):
    """Each person's share of a bill with a tip, in cents, the remainder spread over the first shares."""
    if people < 1:
        raise ValueError("at least one person pays")
    cents = round(total * 100 * (1 + tip_percent / 100))
    base, extra = divmod(cents, people)
    return [base + (1 if i < extra else 0) for i in range(people)]


def describe(values):
    """Mean, median and spread of a list of numbers, each rounded to two decimals."""
    return {
        "mean": round(mean(values), 2),
        "median": median(values),
        "spread": max(values) - min(values),
    }


def primes_between(low, high):
    """The primes in [low, high]."""
    return [n for n in range(clamp(low, 0, high), high + 1) if is_prime(n)]


if __name__ == "__main__":
    print(describe([3, 1, 4, 1, 5, 9, 2, 6]))
    print(percent_change(80, 100), split_bill(25.5, 3, tip_percent=15))
    print(primes_between(10, 30), digit_sum(-4096))
