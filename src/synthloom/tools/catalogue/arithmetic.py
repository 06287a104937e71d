"""Arithmetic: sums, products, quotients, powers, integer number theory, rounding, percentages and quadratics.

Every tool is a pure function of its arguments (deterministic, no I/O). Inputs that would make the work or the
answer unreasonably large (a factorial past 1000, integers past 64 bits, lists past 10,000 numbers) are refused
with a ValueError that says what to change.
"""

import decimal
import math
from typing import Literal

CATEGORY = "arithmetic"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

_MAX_ITEMS = 10_000
_MAX_INT = 2**63 - 1
_MAX_FACTORIAL = 1000


def _numbers(values: list[float], what: str = "numbers") -> list[float]:
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"{what} must be a non-empty list of numbers")
    if len(values) > _MAX_ITEMS:
        raise ValueError(f"{what} has {len(values)} items; at most {_MAX_ITEMS} are allowed")
    out = []
    for v in values:
        out.append(_number(v, what))
    return out


def _number(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, not {value!r}")
    if isinstance(value, int) and abs(value) > 10**300:
        raise ValueError(f"{what} is too large (at most 1e300 in magnitude)")
    return value


def _integer(value: int, what: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    if abs(value) > _MAX_INT:
        raise ValueError(f"{what} must be between -{_MAX_INT} and {_MAX_INT} (64-bit), not {value}")
    return value


def _finite(result: float, what: str) -> float:
    if isinstance(result, complex) or not math.isfinite(result):
        raise ValueError(f"the {what} is too large to represent (overflow); use smaller numbers")
    return result


def add_numbers(numbers: list[float]) -> float:
    """Add a list of numbers (exact-rounding float sum).

    Args:
        numbers: the numbers to add (1 to 10,000 of them).

    Returns:
        The sum of the numbers.
    """
    values = _numbers(numbers)
    if all(isinstance(v, int) for v in values) and abs(sum(values)) <= _MAX_INT:
        return sum(values)
    return _finite(math.fsum(values), "sum")


def subtract_numbers(minuend: float, subtrahend: float) -> float:
    """Subtract one number from another.

    Args:
        minuend: the number to subtract from.
        subtrahend: the number to subtract.

    Returns:
        minuend minus subtrahend.
    """
    return _finite(_number(minuend, "minuend") - _number(subtrahend, "subtrahend"), "difference")


def multiply_numbers(numbers: list[float]) -> float:
    """Multiply a list of numbers together.

    Args:
        numbers: the numbers to multiply (1 to 10,000 of them).

    Returns:
        The product of the numbers.
    """
    values = _numbers(numbers)
    product = math.prod(float(v) for v in values)
    if all(isinstance(v, int) for v in values) and abs(product) <= _MAX_INT:
        return math.prod(values)
    return _finite(product, "product")


def divide_numbers(dividend: float, divisor: float) -> float:
    """Divide one number by another (true division).

    Args:
        dividend: the number to divide.
        divisor: the number to divide by (not zero).

    Returns:
        dividend divided by divisor.
    """
    a, b = _number(dividend, "dividend"), _number(divisor, "divisor")
    if b == 0:
        raise ValueError("divisor must not be zero (division by zero is undefined)")
    return _finite(a / b, "quotient")


def raise_to_power(base: float, exponent: float) -> float:
    """Raise a number to a power (base ** exponent), real results only.

    Args:
        base: the base.
        exponent: the exponent (may be negative or fractional).

    Returns:
        base raised to exponent.
    """
    b, e = _number(base, "base"), _number(exponent, "exponent")
    if b == 0 and e < 0:
        raise ValueError("zero cannot be raised to a negative power (division by zero)")
    if b < 0 and not float(e).is_integer():
        raise ValueError("a negative base raised to a fractional exponent has no real result; use an integer exponent")
    try:
        result = math.pow(b, e)
    except OverflowError:
        raise ValueError("the power is too large to represent (overflow); use a smaller base or exponent") from None
    return _finite(result, "power")


def modulo(dividend: int, divisor: int) -> dict:
    """Integer division with remainder: the floored quotient and the remainder (which takes the divisor's sign).

    Args:
        dividend: the whole number to divide.
        divisor: the whole number to divide by (not zero).

    Returns:
        An object {"quotient": int, "remainder": int} with dividend == quotient * divisor + remainder.
    """
    a, b = _integer(dividend, "dividend"), _integer(divisor, "divisor")
    if b == 0:
        raise ValueError("divisor must not be zero (modulo by zero is undefined)")
    q, r = divmod(a, b)
    return {"quotient": q, "remainder": r}


def gcd_lcm(numbers: list[int]) -> dict:
    """Greatest common divisor and least common multiple of whole numbers.

    Args:
        numbers: two or more whole numbers (up to 1,000; each within 64 bits).

    Returns:
        An object {"gcd": int, "lcm": int}; both are non-negative (lcm is 0 when any number is 0).
    """
    if not isinstance(numbers, (list, tuple)) or len(numbers) < 2:
        raise ValueError("numbers must be a list of at least two whole numbers")
    if len(numbers) > 1000:
        raise ValueError(f"numbers has {len(numbers)} items; at most 1000 are allowed")
    values = [_integer(v, "numbers") for v in numbers]
    lcm = math.lcm(*values)
    if lcm > _MAX_INT:
        raise ValueError("the least common multiple exceeds 64 bits; use fewer or smaller numbers")
    return {"gcd": math.gcd(*values), "lcm": lcm}


def factorial(n: int) -> str:
    """The factorial n! of a whole number, given as decimal digits (text, because it quickly exceeds JSON's exact integers).

    Args:
        n: a whole number from 0 to 1000.

    Returns:
        The decimal digits of n! as a string, e.g. "120" for n = 5.
    """
    k = _integer(n, "n")
    if k < 0:
        raise ValueError(f"n must be 0 or more (the factorial of a negative number is undefined), not {k}")
    if k > _MAX_FACTORIAL:
        raise ValueError(f"n must be at most {_MAX_FACTORIAL}, not {k}")
    return str(math.factorial(k))


def is_prime(n: int) -> bool:
    """Whether a whole number is prime (deterministic Miller-Rabin, exact for every 64-bit number).

    Args:
        n: the whole number to test (within 64 bits).

    Returns:
        True when n is a prime number, else False.
    """
    k = _integer(n, "n")
    if k < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    for p in small:
        if k % p == 0:
            return k == p
    d, s = k - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in small:  # these bases make the test exact below 3.3e24
        x = pow(a, d, k)
        if x in (1, k - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, k)
            if x == k - 1:
                break
        else:
            return False
    return True


_ROUNDING = {
    "half_up": decimal.ROUND_HALF_UP,
    "half_even": decimal.ROUND_HALF_EVEN,
    "down": decimal.ROUND_DOWN,
    "up": decimal.ROUND_UP,
    "floor": decimal.ROUND_FLOOR,
    "ceiling": decimal.ROUND_CEILING,
}


def round_number(value: float, decimals: int = 0,
                 mode: Literal["half_up", "half_even", "down", "up", "floor", "ceiling"] = "half_up") -> float:
    """Round a number to a number of decimal places, rounding the number as written (2.675 -> 2.68 half up).

    Args:
        value: the number to round.
        decimals: decimal places to keep, -15 to 15 (negative rounds to tens, hundreds, ...).
        mode: half_up (ties away from zero), half_even (banker's), down (toward zero), up (away from zero), floor or ceiling.

    Returns:
        The rounded number.
    """
    x = _number(value, "value")
    places = _integer(decimals, "decimals")
    if not -15 <= places <= 15:
        raise ValueError(f"decimals must be between -15 and 15, not {places}")
    if not isinstance(mode, str) or mode not in _ROUNDING:
        raise ValueError(f"unknown rounding mode {mode!r}; use one of {', '.join(_ROUNDING)}")
    quantum = decimal.Decimal(1).scaleb(-places)
    with decimal.localcontext() as ctx:
        ctx.prec = 400
        rounded = decimal.Decimal(repr(x)).quantize(quantum, rounding=_ROUNDING[mode])
    return _finite(float(rounded), "rounded value")


def percentage_of(percent: float, total: float) -> float:
    """A percentage of a total (e.g. 15 percent of 80 is 12).

    Args:
        percent: the percentage, e.g. 15 for 15%.
        total: the amount to take the percentage of.

    Returns:
        percent / 100 * total.
    """
    return _finite(_number(percent, "percent") / 100 * _number(total, "total"), "result")


def percent_change(old_value: float, new_value: float) -> float:
    """The percentage change from an old value to a new value (e.g. 80 -> 100 is +25).

    Args:
        old_value: the starting value (not zero).
        new_value: the ending value.

    Returns:
        (new_value - old_value) / |old_value| * 100, negative for a decrease.
    """
    old, new = _number(old_value, "old_value"), _number(new_value, "new_value")
    if old == 0:
        raise ValueError("old_value must not be zero (a change from zero has no percentage)")
    return _finite((new - old) / abs(old) * 100, "percent change")


def solve_quadratic(a: float, b: float, c: float) -> dict:
    """Solve a*x^2 + b*x + c = 0, giving real roots or a complex-conjugate pair.

    Args:
        a: the coefficient of x^2 (not zero).
        b: the coefficient of x.
        c: the constant term.

    Returns:
        An object {"discriminant": float, "real_roots": [float, ...] (ascending; one entry for a double root),
        "complex_roots": [{"real": float, "imag": float}, ...] (empty when the roots are real)}.
    """
    qa, qb, qc = _number(a, "a"), _number(b, "b"), _number(c, "c")
    if qa == 0:
        raise ValueError("a must not be zero (that is a linear equation, not a quadratic)")
    disc = _finite(float(qb) * qb - 4.0 * qa * qc, "discriminant")
    if disc > 0:
        sq = math.sqrt(disc)
        q = -0.5 * (qb + math.copysign(sq, qb))  # avoids cancellation when b*b >> 4ac
        roots = sorted([q / qa, qc / q]) if q != 0 else sorted([sq / (2 * qa), -sq / (2 * qa)])
        return {"discriminant": disc, "real_roots": roots, "complex_roots": []}
    if disc == 0:
        return {"discriminant": 0.0, "real_roots": [-qb / (2 * qa) + 0.0], "complex_roots": []}
    real, imag = -qb / (2 * qa) + 0.0, math.sqrt(-disc) / (2 * abs(qa))
    return {"discriminant": disc, "real_roots": [], "complex_roots": [{"real": real, "imag": imag}, {"real": real, "imag": -imag}]}
