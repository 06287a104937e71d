"""The stdout judge of ``stdio`` code tests: is a program's output the expected output?

Rules, in order (see ``docs/verification/code.md``):

1. **Lines.** ``\\r\\n`` and ``\\r`` become ``\\n``; spaces and tabs at the end of each line and blank
   lines at the start and end are ignored. Equal after that: a match.
2. **Tokens.** Otherwise both outputs are split on ASCII whitespace (space, tab, newline, CR, FF, VT)
   and must have the same number of tokens, pairwise equal:

   * a token equal to the expected one character for character matches;
   * where the **expected** token is a *decimal float literal* (ASCII digits with a ``.`` or an
     exponent: ``0.5``, ``-3.``, ``.25``, ``1e-9``, ``2.5E+3``), the output token may be any ASCII
     number literal (integer or float) within ``REL_TOL`` relative **or** ``ABS_TOL`` absolute
     error: ``|got - expected| <= max(REL_TOL * max(|got|, |expected|), ABS_TOL)``, compared
     exactly (as decimals, never through binary floats);
   * everything else — integers above all — must match exactly: ``1000`` is not ``1000.0``,
     ``1_000``, ``१०००`` (non-ASCII digits), ``+1000`` or ``01000``; ``0`` is not ``1e-12``;
     letters are case-sensitive; ``nan``/``inf`` only match themselves.

No other normalisation is applied (no Unicode digit or width folding, no case folding, no
Unicode whitespace as a separator: a no-break space is part of its token).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, localcontext

#: relative tolerance for float tokens (the usual "absolute or relative error 1e-6" of judges)
REL_TOL = Decimal("1e-6")
#: absolute tolerance for float tokens: a value within it of the expected one matches (so
#: ``1e-10`` matches ``0.0``; ``1e-8`` does not)
ABS_TOL = Decimal("1e-9")

_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][+-]?[0-9]+)?\Z")
# longer or larger literals are compared as text only ("1e999999999" is a number, but not one
# worth a billion-digit subtraction)
_MAX_LITERAL = 1000
_MAX_EXPONENT = 10_000


def outputs_match(got: str, expected: str) -> bool:
    """Whether stdout ``got`` matches ``expected`` under the rules of this module."""
    if _lines(got) == _lines(expected):
        return True
    a, b = _tokens(got), _tokens(expected)
    return len(a) == len(b) and all(tokens_match(x, y) for x, y in zip(a, b))


def tokens_match(got: str, expected: str) -> bool:
    """One output token against the expected one (exact, or within tolerance for a float)."""
    if got == expected:
        return True
    exp = _float_literal(expected)
    if exp is None:
        return False
    value = _number_literal(got)
    if value is None:
        return False
    with localcontext() as ctx:
        ctx.prec = 2 * (_MAX_EXPONENT + _MAX_LITERAL)  # exact for every value _number_literal accepts
        diff = abs(value - exp)
        return diff <= max(REL_TOL * max(abs(value), abs(exp)), ABS_TOL)


def _lines(text: str) -> list[str]:
    lines = [ln.rstrip(" \t") for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    start = 0
    while start < len(lines) and not lines[start]:
        start += 1
    return lines[start:]


def _tokens(text: str) -> list[str]:
    return [t for t in _ASCII_SPACE.split(text) if t]


def _float_literal(token: str) -> Decimal | None:
    return _decimal(token) if _FLOAT.match(token) else None


def _number_literal(token: str) -> Decimal | None:
    return _decimal(token) if _INT.match(token) or _FLOAT.match(token) else None


def _decimal(token: str) -> Decimal | None:
    if len(token) > _MAX_LITERAL:
        return None
    try:
        value = Decimal(token)
    except InvalidOperation:  # pragma: no cover - the patterns only admit valid literals
        return None
    return value if abs(value.adjusted()) <= _MAX_EXPONENT else None
