"""Expected score from the logprobs of the score token: ``E[s] = Σ_k p(k)·k`` over the scale.

DEITA's scorers (Liu et al. 2023, arXiv 2312.15685) read the logits of the tokens "1".."6" at the
first generated position, softmax them and take the expectation; G-Eval (Liu et al. 2023, arXiv
2303.16634) weights scores by their probabilities the same way. A score read this way is continuous
and much less tied than the sampled digit.

Here the score token is the first generated token whose text is an integer on the scale (when the
reply's text was parsed to a value, the first token holding exactly that value is preferred). Among
its top alternatives, tokens that are integers on the scale (``"4"`` and ``" 4"`` count together)
are renormalised — the softmax over the scale's tokens that DEITA computes. Values whose token is not
among the top alternatives get probability 0, so ask for enough ``top_logprobs`` (20 by default).
Only single-token values count: on a 1–10 scale, "10" is seen only if the tokenizer has it as one token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...llm.types import TokenLogprob


def _int_token(token: str, lo: float, hi: float) -> int | None:
    t = token.strip()
    if t.isdigit() and t.isascii():
        v = int(t)
        if lo <= v <= hi:
            return v
    return None


def score_token_index(logprobs: Sequence[TokenLogprob], lo: float, hi: float, parsed: float | None = None) -> int | None:
    """Index of the token holding the score (see the module docstring), or ``None``."""
    candidates = [i for i, t in enumerate(logprobs) if _int_token(t.token, lo, hi) is not None]
    if not candidates:
        return None
    if parsed is not None and float(parsed).is_integer():
        same = [i for i in candidates if _int_token(logprobs[i].token, lo, hi) == int(parsed)]
        if same:
            return same[0]
    return candidates[0]


def score_distribution(token: TokenLogprob, lo: float, hi: float) -> dict[int, float]:
    """Probabilities of the scale's integer values at one position, renormalised over the scale."""
    mass: dict[int, float] = {}
    alternatives = token.top or [(token.token, token.logprob)]
    if not any(t == token.token for t, _ in alternatives):
        alternatives = [*alternatives, (token.token, token.logprob)]
    for text, lp in alternatives:
        v = _int_token(text, lo, hi)
        if v is not None and lp is not None and lp > -math.inf:
            mass[v] = mass.get(v, 0.0) + math.exp(lp)
    total = sum(mass.values())
    return {v: p / total for v, p in sorted(mass.items())} if total > 0 else {}


def expected_score(logprobs: Sequence[TokenLogprob] | None, lo: float, hi: float,
                   parsed: float | None = None) -> tuple[float, dict[int, float]] | None:
    """``(E[score], {value: probability})`` from a choice's logprobs, or ``None`` without a score token."""
    if not logprobs:
        return None
    i = score_token_index(logprobs, lo, hi, parsed)
    if i is None:
        return None
    dist = score_distribution(logprobs[i], lo, hi)
    if not dist:
        return None
    return sum(v * p for v, p in dist.items()), dist
