"""Deciding whether two answers are the same: normalisation, a fast path, SymPy via math-verify.

* :func:`normalize_answer` strips what never matters: ``$`` and ``\\( \\)`` delimiters, ``\\left``
  / ``\\right``, spacing commands, ``\\dfrac`` → ``\\frac``, degrees, ``\\$``, ``\\text{units}``
  after a number, thousands separators, a trailing period, ``x =`` in front of a value.
* :func:`fast_compare` decides plain numbers and fractions with :class:`fractions.Fraction`
  (exactly; a decimal against a fraction to 6 places, like math-verify), multiple-choice
  letters, and constant LaTeX arithmetic (:mod:`.math_latex`: roots, ``\\pi``, powers, nested
  fractions), without SymPy. ``None`` means "undecided: ask SymPy".
* :func:`sympy_compare` runs math-verify's ``parse``/``verify`` with its own timeouts off (they use
  ``signal.alarm``; the caller bounds time from outside) behind an **exact-rational guard**:
  when both sides evaluate to exact rationals (within size bounds) they are compared exactly,
  because math-verify's float rounding equates ``1/2004!`` with ``1/2006!`` (its issue #14).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from .math_extract import choice_letter, find_boxed
from .math_latex import Value, latex_equal, latex_value, values_equal

_UNIT_WORDS = (
    r"(?:cm|mm|km|m|meters?|metres?|centimeters?|kilometers?|inches|inch|in|feet|foot|ft|yards?|miles?|mph|"
    r"units?|square\s+\w+|sq\s*\w+|cubic\s+\w+|kg|g|grams?|kilograms?|pounds?|lbs?|ounces?|oz|liters?|litres?|ml|"
    r"seconds?|sec|s|minutes?|mins?|hours?|hrs?|h|days?|weeks?|months?|years?|dollars?|cents?|degrees?|"
    r"apples?|people|students?|books?|cookies?|marbles?|pages?|points?|times|ways?|items?|[a-z]+s)"
)
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_SPACING = re.compile(r"(?<!\\)\\[,;:! ]|\\q?quad|~")
_NUM_UNITS = re.compile(r"^(?P<num>[-+]?[\d.,/]+)\s*(?:\\?%)?\s*" + _UNIT_WORDS + r"(?:\s*\^?\s*\{?[23]\}?)?\.?$", re.IGNORECASE)
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_LATEX_THOUSANDS = re.compile(r"(\d)\{,\}(\d{3})")
_ASSIGN = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(?P<rhs>[^=<>]+)$")
_FRAC = re.compile(r"^(?P<sign>-?)\\frac\s*\{\s*(?P<a>-?\d+)\s*\}\s*\{\s*(?P<b>-?\d+)\s*\}$|^(?P<sign2>-?)\\frac(?P<a2>\d)(?P<b2>\d)$")
_PLAIN = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:\s*/\s*[-+]?\d+(?:\.\d+)?)?$")

#: how far the exact-rational guard evaluates before leaving an expression to math-verify
MAX_EXACT_BITS = 200_000
MAX_FACTORIAL = 5_000


def normalize_answer(answer: str | None) -> str | None:
    """The canonical written form of an answer (``None`` stays ``None``; empty becomes ``None``)."""
    if answer is None:
        return None
    s = str(answer).strip()
    for _ in range(3):  # layers such as "$\boxed{\text{10 cm}}$."
        before = s
        s = s.strip().rstrip(".").strip()
        if s.startswith("$$") and s.endswith("$$") and len(s) > 4:
            s = s[2:-2]
        elif s.startswith("$") and s.endswith("$") and len(s) > 2:
            s = s[1:-1]
        elif s.startswith("\\(") and s.endswith("\\)") or s.startswith("\\[") and s.endswith("\\]"):
            s = s[2:-2]
        if s.startswith(("\\boxed", "\\fbox")):
            inner = find_boxed(s)
            if inner is not None:
                s = inner
        s = s.strip()
        if s == before:
            break
    s = s.replace("−", "-").replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\left", "").replace("\\right", "").replace("\\displaystyle", "")
    s = re.sub(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree", "", s)
    s = s.replace("\\$", "").replace("\\%", "%")
    if s.startswith("$") and not s.endswith("$"):
        s = s[1:]  # "$5" (dollars), not math delimiters
    s = _SPACING.sub(" ", s)
    s = _LATEX_THOUSANDS.sub(r"\1\2", s)
    s = _TEXT_CMD.sub(lambda m: " " + m.group(1) + " ", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    m = _ASSIGN.match(s)
    if m:
        s = m.group("rhs").strip()
    m = _NUM_UNITS.match(s)
    if m:
        s = m.group("num")
    if s.endswith("%"):
        s = s[:-1].strip()
    elif s.lower().endswith(" percent"):
        s = s[: -len(" percent")].strip()
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = s.lstrip("+") if re.match(r"^\+\d", s) else s
    return s or None


def had_percent(answer: str | None) -> bool:
    return answer is not None and ("%" in answer or "percent" in answer.lower())


def parse_number(s: str | None) -> tuple[Fraction, bool] | None:
    """``(value, is_decimal)`` for a plain number / ``a/b`` / ``\\frac{a}{b}``, else ``None``."""
    if not s or len(s) > 64:
        return None
    try:
        if _PLAIN.match(s):
            decimal = "." in s
            if "/" in s:
                a, b = s.split("/")
                den = Fraction(b.strip())
                return (Fraction(a.strip()) / den, decimal) if den else None
            return Fraction(s), decimal
        m = _FRAC.match(s)
        if m:
            sign = m.group("sign") or m.group("sign2") or ""
            a, b = (m.group("a"), m.group("b")) if m.group("a") is not None else (m.group("a2"), m.group("b2"))
            if int(b) == 0:
                return None
            value = Fraction(int(a), int(b))
            return (-value if sign else value), False
    except (ValueError, ZeroDivisionError):
        return None
    return None


def numbers_equal(pred: tuple[Fraction, bool], gold: tuple[Fraction, bool]) -> bool:
    """Exact for integers and fractions; when a side is a decimal, equal after rounding both to
    6 places (math-verify's ``float_rounding``), so ``0.333333`` matches ``1/3``."""
    (p, p_dec), (g, g_dec) = pred, gold
    if p == g:
        return True
    if p_dec or g_dec:
        return round(p, 6) == round(g, 6)
    return False


def fast_compare(pred: str, gold: str, *, gold_percent: bool = False) -> bool | None:
    """Decide cheap cases on normalised answers; ``None`` when SymPy has to decide."""
    if pred == gold:
        return True
    g_letter = choice_letter(gold)
    if g_letter is not None:
        p_letter = choice_letter(pred)
        return p_letter == g_letter
    g_num = parse_number(gold)
    p_num = parse_number(pred)
    if g_num is not None and p_num is not None:
        if numbers_equal(p_num, g_num):
            return True
        if gold_percent and numbers_equal((p_num[0] * 100, p_num[1]), g_num):
            return True  # gold "25%", prediction "0.25"
        return False
    # constant LaTeX arithmetic (\sqrt, \pi, powers, nested \frac) without SymPy's ANTLR parser
    # and rational functions of a few variables, compared exactly at random points; intervals
    same = latex_equal(pred, gold)
    if same is False and gold_percent:
        p_val, g_val = latex_value(pred), latex_value(gold)
        if p_val is not None and g_val is not None and p_val.exact is not None:
            return values_equal(Value.of(p_val.exact * 100, p_val.decimal), g_val)
    return same


# -- SymPy via math-verify (run this where a hang can be killed: math_pool's workers) ----------

def exact_value(expr: Any, budget: list[int] | None = None) -> Fraction | None:
    """The exact rational value of a SymPy expression built from integers, rationals, sums,
    products, integer powers and factorials, or ``None`` (symbols, floats, roots, too large)."""
    import sympy

    if budget is None:
        budget = [200]
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if isinstance(expr, (sympy.Integer, sympy.Rational)):
        return Fraction(int(expr.p), int(expr.q))
    if isinstance(expr, (int,)):
        return Fraction(expr)
    if isinstance(expr, sympy.Add):
        total = Fraction(0)
        for a in expr.args:
            v = exact_value(a, budget)
            if v is None:
                return None
            total += v
        return _bounded(total)
    if isinstance(expr, sympy.Mul):
        prod = Fraction(1)
        for a in expr.args:
            v = exact_value(a, budget)
            if v is None:
                return None
            prod *= v
            if _bounded(prod) is None:
                return None
        return prod
    if isinstance(expr, sympy.Pow):
        base = exact_value(expr.args[0], budget)
        exp = exact_value(expr.args[1], budget)
        if base is None or exp is None or exp.denominator != 1:
            return None
        e = exp.numerator
        if base == 0 and e < 0:
            return None
        size = max(base.numerator.bit_length(), base.denominator.bit_length(), 1)
        if abs(e) * size > MAX_EXACT_BITS:
            return None
        return base**e
    if isinstance(expr, sympy.factorial):
        n = exact_value(expr.args[0], budget)
        if n is None or n.denominator != 1 or not 0 <= n.numerator <= MAX_FACTORIAL:
            return None
        return Fraction(math.factorial(n.numerator))
    return None


def differ_at_high_precision(a: Any, b: Any) -> bool:
    """Whether two exact numeric expressions (no symbols, no decimals: those keep math-verify's
    tolerance) are certainly different: evaluated to 50 significant digits with an unbounded
    exponent, their relative difference exceeds 1e-40. Catches what machine floats cannot tell
    apart, such as ``1/300000!`` and ``1/300001!`` (both underflow to 0)."""
    import sympy

    try:
        if not all(isinstance(x, sympy.Expr) and x.is_number and not x.has(sympy.Float) for x in (a, b)):
            return False
        va, vb = sympy.N(a, 50), sympy.N(b, 50)
        if not (va.is_real and vb.is_real) or not (va.is_finite and vb.is_finite):
            return False
        scale = max(abs(va), abs(vb))
        return bool(scale != 0 and abs(va - vb) > scale * sympy.Float("1e-40", 50))
    except (TypeError, ValueError, ArithmeticError, RecursionError):
        return False


def _bounded(v: Fraction) -> Fraction | None:
    if v.numerator.bit_length() > MAX_EXACT_BITS or v.denominator.bit_length() > MAX_EXACT_BITS:
        return None
    return v


_PARSE_CACHE: dict[str, list] = {}


def _parse(answer: str) -> list:
    from math_verify import parse

    got = _PARSE_CACHE.get(answer)
    if got is None:
        got = parse("\\boxed{" + answer + "}", parsing_timeout=None)
        if not got:
            got = parse(answer, parsing_timeout=None)
        if len(_PARSE_CACHE) > 20_000:
            _PARSE_CACHE.clear()
        _PARSE_CACHE[answer] = got
    return got


def sympy_compare(pred: str, gold: str) -> tuple[bool, str]:
    """``(correct, detail)`` by math-verify with the exact-rational guard. No timeout here: run
    it in a process that can be killed (math_pool). Raises on math-verify errors."""
    from math_verify import verify

    g = _parse(gold)
    if not g:
        return pred == gold, "gold did not parse; compared as text"
    p = _parse(pred)
    if not p:
        return False, "prediction did not parse"
    gv, pv = exact_value(g[0]), exact_value(p[0])
    if gv is not None and pv is not None:
        return gv == pv, "exact rational comparison"
    if differ_at_high_precision(g[0], p[0]):
        return False, "exact expressions differ at 50 significant digits"
    ok = verify(g, p, timeout_seconds=None)
    return bool(ok), "math-verify"
