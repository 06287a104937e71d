"""The arithmetic catalogue module: every tool on hand-checked values and on bad input."""

from __future__ import annotations

import math

import pytest

from synthloom.tools.catalogue import arithmetic as ar


def test_module_follows_the_catalogue_convention(catalogue_convention) -> None:
    tools = catalogue_convention(ar, 7)
    rounding = next(t for t in tools if t.name == "round_number").parameters["properties"]["mode"]
    assert rounding["enum"] == ["half_up", "half_even", "down", "up", "floor", "ceiling"] and rounding["default"] == "half_up"


def test_add_subtract_multiply_divide() -> None:
    assert ar.add_numbers([1, 2, 3]) == 6 and isinstance(ar.add_numbers([1, 2, 3]), int)
    assert ar.add_numbers([0.1, 0.2, 0.3]) == 0.6  # fsum: no 0.6000000000000001
    assert ar.subtract_numbers(10, 4.5) == 5.5
    assert ar.multiply_numbers([2, 3, 4]) == 24
    assert ar.multiply_numbers([0.5, 4]) == 2.0
    assert ar.divide_numbers(7, 2) == 3.5
    with pytest.raises(ValueError, match="divisor must not be zero"):
        ar.divide_numbers(1, 0)
    with pytest.raises(ValueError, match="non-empty list"):
        ar.add_numbers([])
    with pytest.raises(ValueError, match="must be a number"):
        ar.add_numbers([1, "2"])
    with pytest.raises(ValueError, match="at most 10000"):
        ar.add_numbers([1] * 10_001)
    with pytest.raises(ValueError, match="overflow"):
        ar.multiply_numbers([1e200, 1e200])


def test_raise_to_power() -> None:
    assert ar.raise_to_power(2, 10) == 1024
    assert ar.raise_to_power(9, 0.5) == 3
    assert ar.raise_to_power(-2, 3) == -8
    assert ar.raise_to_power(2, -2) == 0.25
    with pytest.raises(ValueError, match="no real result"):
        ar.raise_to_power(-8, 1 / 3)
    with pytest.raises(ValueError, match="negative power"):
        ar.raise_to_power(0, -1)
    with pytest.raises(ValueError, match="overflow"):
        ar.raise_to_power(10, 400)


def test_modulo_takes_the_divisors_sign() -> None:
    assert ar.modulo(17, 5) == {"quotient": 3, "remainder": 2}
    assert ar.modulo(-17, 5) == {"quotient": -4, "remainder": 3}
    with pytest.raises(ValueError, match="modulo by zero"):
        ar.modulo(3, 0)
    with pytest.raises(ValueError, match="whole number"):
        ar.modulo(3.5, 2)


def test_gcd_lcm() -> None:
    assert ar.gcd_lcm([12, 18, 30]) == {"gcd": 6, "lcm": 180}
    assert ar.gcd_lcm([7, 0]) == {"gcd": 7, "lcm": 0}
    with pytest.raises(ValueError, match="at least two"):
        ar.gcd_lcm([4])
    with pytest.raises(ValueError, match="exceeds 64 bits"):
        ar.gcd_lcm([2**62 - 1, 2**61 - 1])


def test_factorial_is_exact_text_and_bounded() -> None:
    assert ar.factorial(0) == "1" and ar.factorial(5) == "120" and ar.factorial(20) == "2432902008176640000"
    assert len(ar.factorial(1000)) == 2568 and ar.factorial(1000) == str(math.factorial(1000))
    with pytest.raises(ValueError, match="at most 1000"):
        ar.factorial(1001)
    with pytest.raises(ValueError, match="0 or more"):
        ar.factorial(-1)


def test_is_prime() -> None:
    assert [n for n in range(30) if ar.is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert ar.is_prime(2**61 - 1) and ar.is_prime(1_000_000_007)
    assert not ar.is_prime(3_215_031_751)  # a strong pseudoprime to bases 2, 3, 5 and 7
    assert not ar.is_prime(2**61 + 1)
    with pytest.raises(ValueError, match="64-bit"):
        ar.is_prime(2**64)


def test_round_number_rounds_the_number_as_written() -> None:
    assert ar.round_number(2.675, 2) == 2.68  # round() gives 2.67: the binary float is below 2.675
    assert ar.round_number(2.5) == 3.0 and ar.round_number(2.5, mode="half_even") == 2.0
    assert ar.round_number(-2.5) == -3.0
    assert ar.round_number(1234.5678, -2) == 1200.0
    assert ar.round_number(1.29, 1, "down") == 1.2 and ar.round_number(-1.21, 1, "floor") == -1.3
    with pytest.raises(ValueError, match="unknown rounding mode"):
        ar.round_number(1.5, 0, "bankers")
    with pytest.raises(ValueError, match="between -15 and 15"):
        ar.round_number(1.5, 20)


def test_percentages() -> None:
    assert ar.percentage_of(15, 80) == 12
    assert ar.percent_change(80, 100) == 25
    assert ar.percent_change(-50, -25) == 50  # relative to |old|: -50 -> -25 is an increase
    with pytest.raises(ValueError, match="must not be zero"):
        ar.percent_change(0, 5)


def test_solve_quadratic() -> None:
    assert ar.solve_quadratic(1, -3, 2) == {"discriminant": 1.0, "real_roots": [1.0, 2.0], "complex_roots": []}
    assert ar.solve_quadratic(1, 2, 1) == {"discriminant": 0.0, "real_roots": [-1.0], "complex_roots": []}
    assert ar.solve_quadratic(1, 2, 5)["complex_roots"] == [{"real": -1.0, "imag": 2.0}, {"real": -1.0, "imag": -2.0}]
    small = ar.solve_quadratic(1, 1e8, 1)["real_roots"]  # the naive formula loses the small root entirely
    assert small[1] == pytest.approx(-1e-8, rel=1e-12)
    assert ar.solve_quadratic(2, 0, -8)["real_roots"] == [-2.0, 2.0]
    with pytest.raises(ValueError, match="linear equation"):
        ar.solve_quadratic(0, 2, 1)
