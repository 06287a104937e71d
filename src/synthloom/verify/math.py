"""Math answer verification: does a solution's final answer equal the gold answer?

    >>> verify_math("... so the total is $\\boxed{\\frac{1}{2}}$.", "0.5").status
    'correct'

Three stages (``math_extract``, ``math_compare``, ``math_pool``):

1. **extract** the prediction's final answer (last ``\\boxed{}``, ``####``, "The answer is …",
   a bare answer, the last number; choice letters when the gold answer is a letter). Gold answers
   are used as given unless they contain ``\\boxed{}`` or ``####`` (a full gold solution).
2. **normalise** both and try the **fast path**: plain numbers and fractions compared exactly with
   :class:`fractions.Fraction`, identical strings, choice letters — no SymPy, no process hop.
3. otherwise **SymPy via math-verify** in a worker process with a hard timeout, behind an
   exact-rational guard (see :mod:`synthloom.verify.math_compare`).

Every verdict has a ``status``: ``correct``, ``wrong``, ``no_answer`` (nothing to extract),
``timeout`` (SymPy did not finish: the worker was killed and replaced) or ``error`` (no gold
answer, or math-verify raised).
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Iterable
from concurrent.futures import Future, InvalidStateError
from dataclasses import asdict, dataclass
from typing import Any

from .math_compare import fast_compare, had_percent, normalize_answer
from .math_extract import extract_answer, extract_choice, is_choice
from .math_pool import SympyPool

__all__ = ["MathVerdict", "MathVerifier", "extract_answer", "verify_math", "averify_math", "gold_answer",
           "default_verifier", "STATUSES"]

STATUSES = ("correct", "wrong", "no_answer", "timeout", "error")


@dataclass(slots=True)
class MathVerdict:
    """The outcome of checking one prediction against one gold answer. ``pred`` and ``gold`` are
    the normalised answers compared (``None`` when there was none); ``detail`` says how it was
    decided or why it failed."""

    correct: bool
    status: str
    pred: str | None
    gold: str | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gold_answer(gold: Any) -> str | None:
    """The gold answer to compare against: a full gold solution (``\\boxed{}``, GSM8K ``####``)
    is reduced to its final answer; anything else is used as given."""
    if gold is None:
        return None
    if isinstance(gold, bool):
        return None
    if isinstance(gold, (int, float)):
        text = repr(gold) if isinstance(gold, float) else str(gold)
        return text[:-2] if text.endswith(".0") else text
    text = str(gold).strip()
    if not text:
        return None
    if "\\boxed" in text or "\\fbox" in text or "####" in text:
        return extract_answer(text)
    return text


def _prepare(pred_text: Any, gold: Any) -> MathVerdict | tuple[str, str, str]:
    """A verdict when the cheap stages decide, else the normalised ``(pred, gold, gold_raw)``."""
    gold_raw = gold_answer(gold)
    gold_norm = normalize_answer(gold_raw)
    if gold_norm is None:
        return MathVerdict(False, "error", None, None, "no gold answer")
    text = pred_text if isinstance(pred_text, str) else (None if pred_text is None else str(pred_text))
    pred_raw = extract_choice(text) if is_choice(gold_norm) else extract_answer(text)
    pred_norm = normalize_answer(pred_raw)
    if pred_norm is None:
        return MathVerdict(False, "no_answer", None, gold_norm, "no final answer found in the prediction")
    fast = fast_compare(pred_norm, gold_norm, gold_percent=had_percent(gold_raw))
    if fast is not None:
        return MathVerdict(fast, "correct" if fast else "wrong", pred_norm, gold_norm, "fast path")
    return pred_norm, gold_norm, gold_raw or ""


def _verdict(pred: str, gold: str, outcome: tuple[str, bool, str]) -> MathVerdict:
    status, correct, detail = outcome
    if status == "ok":
        return MathVerdict(correct, "correct" if correct else "wrong", pred, gold, detail)
    return MathVerdict(False, status, pred, gold, detail)


class MathVerifier:
    """Checks (prediction text, gold answer) pairs; SymPy work runs in ``workers`` processes,
    each comparison bounded by ``timeout`` seconds (a hung worker is killed and replaced).
    Thread-safe. Close it (or use ``with``) to stop the workers."""

    def __init__(self, workers: int = 2, timeout: float = 5.0) -> None:
        self.pool = SympyPool(workers=workers, timeout=timeout)
        self.workers = workers
        self.timeout = timeout

    def submit(self, pred_text: Any, gold: Any) -> Future:
        """A future resolving to the :class:`MathVerdict` (already done when the fast path decided)."""
        prepared = _prepare(pred_text, gold)
        out: Future = Future()
        if isinstance(prepared, MathVerdict):
            out.set_result(prepared)
            return out
        pred, gold_norm, _ = prepared
        inner = self.pool.submit(pred, gold_norm)

        def done(f: Future) -> None:
            try:
                verdict = _verdict(pred, gold_norm, f.result())
            except Exception as e:  # noqa: BLE001 - surfaced as an error verdict
                verdict = MathVerdict(False, "error", pred, gold_norm, f"{type(e).__name__}: {e}")
            try:
                out.set_result(verdict)
            except InvalidStateError:  # the caller cancelled it (an interrupted run): nobody waits
                pass

        inner.add_done_callback(done)
        return out

    def verify(self, pred_text: Any, gold: Any) -> MathVerdict:
        return self.submit(pred_text, gold).result()

    def verify_many(self, pairs: Iterable[tuple[Any, Any]]) -> list[MathVerdict]:
        """Verdicts for ``(prediction text, gold)`` pairs, in order (SymPy cases run in parallel)."""
        futures = [self.submit(p, g) for p, g in pairs]
        return [f.result() for f in futures]

    async def averify(self, pred_text: Any, gold: Any) -> MathVerdict:
        fut = self.submit(pred_text, gold)
        if fut.done():
            return fut.result()
        return await asyncio.wrap_future(fut)

    @property
    def restarts(self) -> int:
        """Workers killed and replaced so far (timeouts and crashes)."""
        return self.pool.restarts

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> MathVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: MathVerifier | None = None
_default_lock = threading.Lock()


def default_verifier() -> MathVerifier:
    """The process-wide verifier (2 workers, 5 s timeout), started on first use, closed at exit."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MathVerifier(workers=2, timeout=5.0)
            atexit.register(_default.close)
        return _default


def verify_math(pred_text: Any, gold: Any, *, verifier: MathVerifier | None = None) -> MathVerdict:
    """Check one prediction against one gold answer. The fast path runs here, in the calling
    thread; SymPy cases go to ``verifier`` (default: the shared :func:`default_verifier`)."""
    prepared = _prepare(pred_text, gold)
    if isinstance(prepared, MathVerdict):
        return prepared
    return (verifier or default_verifier()).verify(pred_text, gold)


async def averify_math(pred_text: Any, gold: Any, *, verifier: MathVerifier | None = None) -> MathVerdict:
    """:func:`verify_math` for async code: awaits the worker without blocking the event loop."""
    prepared = _prepare(pred_text, gold)
    if isinstance(prepared, MathVerdict):
        return prepared
    return await (verifier or default_verifier()).averify(pred_text, gold)
