"""A fast evaluator for constant LaTeX arithmetic, so common answers skip SymPy's ANTLR parser.

math-verify parses LaTeX with an ANTLR grammar at 10–30 ms per expression, which caps a verifier
at a few hundred pairs per second. Most final answers, though, are *constants*: ``\\frac{3}{4}``,
``2\\sqrt{3}``, ``\\frac{5\\pi}{6}``, ``2^{10}``, ``\\sqrt[3]{27}``, ``(1+\\sqrt{5})/2``. This module
parses exactly that language with a small recursive-descent parser and evaluates it:

* **exactly** with :class:`fractions.Fraction` while everything stays rational (so ``1/2^{99}``
  and ``1/2^{98}`` differ, and ``1/2004!`` and ``1/2006!`` differ — the exact-rational guard);
* otherwise **numerically** with mpmath at 60 significant digits (roots, ``\\pi``).

Anything else — variables, ``e``, sets, intervals, inequalities, functions, text — returns
``None`` and the caller falls back to math-verify. Two values compare equal when both are exact
and equal, or both are numeric and agree to 40 significant digits; when either side was written
as a decimal, both are rounded to 6 places first, as math-verify does (``float_rounding=6``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import mpmath

_PREC_DIGITS = 60
_EQ_DIGITS = 40
MAX_EXACT_BITS = 200_000
MAX_FACTORIAL = 5_000

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<cmd>\\[A-Za-z]+)|(?P<var>[A-Za-z])|(?P<sym>[-+*/^(){}\[\]!]))"
)


class _Unsupported(Exception):
    """The expression is outside the constant-arithmetic language."""


@dataclass(slots=True)
class Value:
    """A parsed constant: exact when ``exact`` is set, else only ``approx``."""

    exact: Fraction | None
    approx: mpmath.mpf
    decimal: bool = False  # written with a decimal point somewhere

    @staticmethod
    def of(q: Fraction, decimal: bool = False) -> Value:
        with mpmath.workdps(_PREC_DIGITS):
            return Value(q, mpmath.mpf(q.numerator) / q.denominator, decimal)


def _bounded(q: Fraction) -> Fraction | None:
    if max(q.numerator.bit_length(), q.denominator.bit_length()) > MAX_EXACT_BITS:
        return None
    return q


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _Unsupported(text[pos:pos + 10])
        tok = m.group("num") or m.group("cmd") or m.group("var") or m.group("sym")
        out.append(tok)
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    """expr := term (('+'|'-') term)* ; term := unary ((op | implicit) unary)* ;
    unary := ('-'|'+') unary | power ; power := atom ['!'] ['^' group] ; atom := number | \\pi |
    \\frac g g | \\sqrt[n] g | ( expr ) | { expr }."""

    _MUL = {"*", "\\cdot", "\\times"}
    _DIV = {"/", "\\div"}

    def __init__(self, tokens: list[str], env: dict[str, Fraction] | None = None):
        self.t = tokens
        self.i = 0
        self.env = env or {}

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise _Unsupported(f"expected {expected!r}")
        self.i += 1
        return tok

    def parse(self) -> Value:
        v = self.expr()
        if self.peek() is not None:
            raise _Unsupported(self.peek())
        return v

    def expr(self) -> Value:
        v = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            w = self.term()
            v = _add(v, w, -1 if op == "-" else 1)
        return v

    def term(self) -> Value:
        v = self.unary()
        while True:
            tok = self.peek()
            if tok in self._MUL:
                self.take()
                v = _mul(v, self.unary())
            elif tok in self._DIV:
                self.take()
                v = _div(v, self.unary())
            elif tok is not None and (tok[0].isdigit() or tok == "." or tok in self.env
                                      or tok in ("\\pi", "\\frac", "\\sqrt", "(", "{")):
                if tok[0].isdigit() and self.t[self.i - 1][0].isdigit():
                    raise _Unsupported("two numbers side by side")
                if tok in ("\\frac", "\\dfrac", "\\tfrac") and self.t[self.i - 1][0].isdigit():
                    raise _Unsupported("a mixed number such as 2\\frac{1}{2} is ambiguous")
                v = _mul(v, self.power())  # implicit multiplication: 2\sqrt{3}, 3\pi
            else:
                return v

    def unary(self) -> Value:
        tok = self.peek()
        if tok == "-":
            self.take()
            v = self.unary()
            return Value(None if v.exact is None else -v.exact, -v.approx, v.decimal)
        if tok == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Value:
        v = self.atom()
        if self.peek() == "!":
            self.take()
            v = _factorial(v)
        if self.peek() == "^":
            self.take()
            if self.peek() in ("{", "("):
                e = self.atom()
            else:
                e = self.single()
            if self.peek() == "!":
                raise _Unsupported("factorial after a power")
            v = _pow(v, e)
        return v

    def single(self) -> Value:
        """A one-character argument: ``\\frac12``, ``2^3``, ``\\sqrt2``."""
        tok = self.take()
        if tok[0].isdigit():
            if len(tok) > 1 and "." not in tok:
                # \frac12 → 1 then 2: split off the first digit
                self.t[self.i - 1:self.i] = [tok[0], tok[1:]]
                return Value.of(Fraction(int(tok[0])))
            if "." in tok:
                raise _Unsupported("decimal as a bare argument")
            return Value.of(Fraction(int(tok)))
        if tok == "\\pi":
            return _pi()
        if tok in ("{", "("):
            self.i -= 1
            return self.atom()
        raise _Unsupported(tok)

    def group(self) -> Value:
        if self.peek() == "{":
            self.take("{")
            v = self.expr()
            self.take("}")
            return v
        return self.single()

    def atom(self) -> Value:
        tok = self.take()
        if tok[0].isdigit() or tok[0] == ".":
            decimal = "." in tok
            return Value.of(Fraction(tok), decimal)
        if tok == "\\pi":
            return _pi()
        if tok in self.env:
            return Value.of(self.env[tok])
        if tok in ("\\frac", "\\dfrac", "\\tfrac"):
            a = self.group()
            b = self.group()
            return _div(a, b)
        if tok == "\\sqrt":
            index = Value.of(Fraction(2))
            if self.peek() == "[":
                self.take("[")
                index = self.expr()
                self.take("]")
            return _root(self.group(), index)
        if tok in ("(", "{"):
            close = ")" if tok == "(" else "}"
            v = self.expr()
            self.take(close)
            return v
        raise _Unsupported(tok)


def _pi() -> Value:
    with mpmath.workdps(_PREC_DIGITS):
        return Value(None, +mpmath.pi)


def _add(a: Value, b: Value, sign: int) -> Value:
    exact = None
    if a.exact is not None and b.exact is not None:
        exact = _bounded(a.exact + sign * b.exact)
    with mpmath.workdps(_PREC_DIGITS):
        return Value(exact, a.approx + sign * b.approx, a.decimal or b.decimal)


def _mul(a: Value, b: Value) -> Value:
    exact = None
    if a.exact is not None and b.exact is not None:
        exact = _bounded(a.exact * b.exact)
    with mpmath.workdps(_PREC_DIGITS):
        return Value(exact, a.approx * b.approx, a.decimal or b.decimal)


def _div(a: Value, b: Value) -> Value:
    if b.exact == 0 or (b.exact is None and b.approx == 0):
        raise _Unsupported("division by zero")
    exact = None
    if a.exact is not None and b.exact is not None:
        exact = _bounded(a.exact / b.exact)
    with mpmath.workdps(_PREC_DIGITS):
        return Value(exact, a.approx / b.approx, a.decimal or b.decimal)


def _pow(a: Value, e: Value) -> Value:
    if e.exact is None or e.exact.denominator != 1:
        raise _Unsupported("non-integer exponent")  # fractional powers: leave to SymPy
    n = e.exact.numerator
    if a.exact is not None:
        if a.exact == 0 and n < 0:
            raise _Unsupported("0 to a negative power")
        size = max(a.exact.numerator.bit_length(), a.exact.denominator.bit_length(), 1)
        if abs(n) * size <= MAX_EXACT_BITS:
            return Value.of(a.exact ** n, a.decimal)
        raise _Unsupported("too large to evaluate exactly")
    if abs(n) > 10_000:
        raise _Unsupported("exponent too large")
    with mpmath.workdps(_PREC_DIGITS):
        return Value(None, a.approx ** n, a.decimal)


def _root(a: Value, index: Value) -> Value:
    if index.exact is None or index.exact.denominator != 1 or index.exact.numerator < 2:
        raise _Unsupported("root index")
    k = index.exact.numerator
    if a.exact is not None:
        if a.exact < 0:
            if k % 2 == 0:
                raise _Unsupported("even root of a negative number")
            r = _int_root(-a.exact, k)
            if r is not None:
                return Value.of(-r)
        else:
            r = _int_root(a.exact, k)
            if r is not None:
                return Value.of(r)
    if a.approx < 0:
        raise _Unsupported("root of a negative number")
    with mpmath.workdps(_PREC_DIGITS):
        return Value(None, mpmath.root(a.approx, k), a.decimal)


def _int_root(q: Fraction, k: int) -> Fraction | None:
    def iroot(n: int) -> int | None:
        if n.bit_length() > 4096:
            return None
        r = round(n ** (1.0 / k)) if n.bit_length() < 1000 else int(mpmath.root(n, k))
        for c in (r - 1, r, r + 1):
            if c >= 0 and c**k == n:
                return c
        return None

    p, d = iroot(q.numerator), iroot(q.denominator)
    return Fraction(p, d) if p is not None and d is not None else None


def _factorial(a: Value) -> Value:
    if a.exact is None or a.exact.denominator != 1 or not 0 <= a.exact.numerator <= MAX_FACTORIAL:
        raise _Unsupported("factorial argument")
    return Value.of(Fraction(math.factorial(a.exact.numerator)))


def latex_value(text: str | None, env: dict[str, Fraction] | None = None) -> Value | None:
    """The value of a constant arithmetic expression in LaTeX or plain notation, or ``None``.
    With ``env``, single-letter variables take those values."""
    if not text or len(text) > 200:
        return None
    try:
        return _Parser(_tokens(text), env).parse()
    except (_Unsupported, ValueError, ZeroDivisionError, OverflowError):
        return None


#: letters that are constants or units in answers, never free variables here
_NOT_VARIABLES = set("eEiI")


def variables(text: str) -> set[str] | None:
    """The free single-letter variables of an expression; ``None`` when letters form words
    (``xy``, ``cm``, ``dogs``) or include ``e``/``i``: those are left to SymPy."""
    try:
        toks = _tokens(text)
    except _Unsupported:
        return None
    found: set[str] = set()
    for k, tok in enumerate(toks):
        if len(tok) == 1 and tok.isalpha():
            if tok in _NOT_VARIABLES or (k and len(toks[k - 1]) == 1 and toks[k - 1].isalpha()):
                return None
            found.add(tok)
    return found


def latex_equal(pred: str, gold: str) -> bool | None:
    """Whether two expressions are equal, or ``None`` when undecided (outside this language).

    Constants compare by value (:func:`values_equal`). Expressions in up to three variables are
    rational functions here; they are compared at four random rational points, exactly — a
    polynomial identity test that is wrong with negligible probability (Schwartz–Zippel) and
    deterministic for a given pair. Intervals ``(a, b]`` compare brackets and endpoints."""
    iv = _interval_equal(pred, gold)
    if iv is not None:
        return iv
    names_p, names_g = variables(pred), variables(gold)
    if names_p is None or names_g is None:
        return None
    names = sorted(names_p | names_g)
    if not names:
        a, b = latex_value(pred), latex_value(gold)
        return None if a is None or b is None else values_equal(a, b)
    if len(names) > 3:
        return None
    import random

    rng = random.Random(f"{pred}\x00{gold}")
    for _ in range(4):
        env = {n: Fraction(rng.randint(1, 10**6), rng.randint(1, 10**6)) + rng.randint(2, 50) for n in names}
        a, b = latex_value(pred, env), latex_value(gold, env)
        if a is None or b is None:
            return None
        if not values_equal(a, b):
            return False
    return True


_INTERVAL = re.compile(r"^\s*([\[(])([^,\[\]()]+),([^,\[\]()]+)([\])])\s*$")
_INF = {"\\infty", "+\\infty", "-\\infty", "∞", "-∞", "inf", "-inf", "\\infinity"}


def _interval_equal(pred: str, gold: str) -> bool | None:
    mp, mg = _INTERVAL.match(pred), _INTERVAL.match(gold)
    if not mp or not mg:
        return None
    if (mp.group(1), mp.group(4)) != (mg.group(1), mg.group(4)):
        return False
    for x, y in ((mp.group(2), mg.group(2)), (mp.group(3), mg.group(3))):
        x, y = x.replace(" ", ""), y.replace(" ", "")
        if x in _INF or y in _INF:
            if x.lstrip("+").replace("∞", "\\infty") != y.lstrip("+").replace("∞", "\\infty"):
                return False
            continue
        a, b = latex_value(x), latex_value(y)
        if a is None or b is None:
            return None
        if not values_equal(a, b):
            return False
    return True


def values_equal(a: Value, b: Value) -> bool:
    """Exact when both sides are exact (and written without decimals); 6-place rounding when a
    side was written as a decimal; otherwise agreement to 40 significant digits."""
    if a.decimal or b.decimal:
        with mpmath.workdps(_PREC_DIGITS):
            return mpmath.nint(a.approx * 10**6) == mpmath.nint(b.approx * 10**6)
    if a.exact is not None and b.exact is not None:
        return a.exact == b.exact
    with mpmath.workdps(_PREC_DIGITS):
        scale = max(abs(a.approx), abs(b.approx), mpmath.mpf(1))
        return abs(a.approx - b.approx) <= scale * mpmath.mpf(10) ** (-_EQ_DIGITS)
