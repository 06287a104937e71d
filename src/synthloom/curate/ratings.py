"""Ratings of models from pairwise battles: online Elo, Bradley–Terry, bootstrap confidence intervals.

A battle is ``(model_a, model_b, outcome)`` with ``outcome`` ``"a"`` (``model_a`` won), ``"b"`` or
``"tie"``. Ratings are on the Elo scale: a difference of ``scale`` (400) points means 10:1 odds,
``P(i beats j) = 1 / (1 + 10 ** ((R_j - R_i) / scale))``.

* :func:`elo_ratings` — the online Elo system (Elo 1978): battles are played in order and each moves
  both ratings by ``k * (actual - expected)``; the result depends on the order.
* :func:`bradley_terry` — the maximum-likelihood Bradley–Terry strengths (Bradley & Terry 1952),
  fitted with Hunter's MM algorithm (Hunter 2004, "MM algorithms for generalized Bradley–Terry
  models", Ann. Statist. 32(1)): ``p_i <- W_i / Σ_j n_ij / (p_i + p_j)``. Order-free; this is what
  Chatbot Arena (Chiang et al. 2024, arXiv:2403.04132) and Arena Learning (Luo et al. 2024,
  arXiv:2407.10627) report as "Elo". A model that never lost (or never won) has no finite MLE:
  ``prior`` adds that many virtual ties to every pair of models that met, which keeps every
  strength finite (0 = the plain MLE; then such a model is an error).
* Ties: ``ties="half"`` counts a tie as half a win for each side (Elo's convention; in
  Bradley–Terry the same as one win each way at half weight); ``ties="drop"`` leaves ties out.
* :func:`bootstrap` — resamples the battles with replacement ``rounds`` times (seeded) and reports
  each model's median rating and the 2.5–97.5 percentile interval (Arena Learning: 100 rounds,
  the median as the rating, the 95% CI from the percentiles).

``anchor``/``anchor_rating`` pin one model's rating (Arena Learning pins Llama-2-70B-Chat at 1100);
without an anchor the ratings are centred on ``base`` (their mean is ``base``).
Pure numpy, no model calls: :func:`rating_table` is what the ``arena_ratings`` step writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

OUTCOMES = ("a", "b", "tie")
TIE_RULES = ("half", "drop")


@dataclass(frozen=True)
class Battle:
    """One battle: ``outcome`` is ``"a"`` (``model_a`` won), ``"b"`` or ``"tie"``."""

    model_a: str
    model_b: str
    outcome: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"battle outcome must be one of {', '.join(OUTCOMES)}, not {self.outcome!r}")
        if self.model_a == self.model_b:
            raise ValueError(f"a battle needs two different models, got {self.model_a!r} twice")


def as_battles(items: Iterable[Battle | Sequence[str]]) -> list[Battle]:
    """Battles from :class:`Battle` objects or ``(model_a, model_b, outcome)`` tuples."""
    return [b if isinstance(b, Battle) else Battle(*b) for b in items]


def win_probability(rating_i: float, rating_j: float, scale: float = 400.0) -> float:
    """``P(i beats j)`` for ratings on the Elo scale."""
    return 1.0 / (1.0 + 10.0 ** ((rating_j - rating_i) / scale))


def models_of(battles: Sequence[Battle]) -> list[str]:
    """The models in ``battles``, sorted by name."""
    return sorted({b.model_a for b in battles} | {b.model_b for b in battles})


def _check(ties: str, scale: float) -> None:
    if ties not in TIE_RULES:
        raise ValueError(f"ties must be 'half' (half a win each) or 'drop' (left out), not {ties!r}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, not {scale!r}")


def _anchored(ratings: dict[str, float], base: float, anchor: str | None, anchor_rating: float | None) -> dict[str, float]:
    if not ratings:
        return {}
    if anchor is None:
        shift = base - float(np.mean(list(ratings.values())))
    else:
        if anchor not in ratings:
            raise ValueError(f"anchor model {anchor!r} fought no battle; models: {', '.join(sorted(ratings))}")
        shift = (base if anchor_rating is None else anchor_rating) - ratings[anchor]
    return {m: r + shift for m, r in sorted(ratings.items())}


def elo_ratings(battles: Iterable[Battle | Sequence[str]], *, k: float = 4.0, base: float = 1000.0, scale: float = 400.0,
                ties: str = "half", anchor: str | None = None, anchor_rating: float | None = None) -> dict[str, float]:
    """Online Elo over ``battles`` in the order given (every model starts at ``base``; a tie is half
    a win with ``ties="half"``, skipped with ``"drop"``), then shifted so ``anchor`` sits at
    ``anchor_rating`` (or the mean at ``base``). ``k`` is the K-factor (Chatbot Arena used 4)."""
    _check(ties, scale)
    if not k > 0:
        raise ValueError(f"k (the Elo K-factor) must be > 0, not {k!r}")
    rating: dict[str, float] = {}
    for b in as_battles(battles):
        ra, rb = rating.setdefault(b.model_a, base), rating.setdefault(b.model_b, base)
        if b.outcome == "tie" and ties == "drop":
            continue
        actual = {"a": 1.0, "b": 0.0, "tie": 0.5}[b.outcome]
        expected = win_probability(ra, rb, scale)
        rating[b.model_a] = ra + k * (actual - expected)
        rating[b.model_b] = rb - k * (actual - expected)
    return _anchored(rating, base, anchor, anchor_rating)


def _win_matrix(battles: Sequence[Battle], models: list[str], ties: str, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """``wins[i, j]`` (i over j, ties as half wins) and ``games[i, j]`` (symmetric), priors included."""
    index = {m: i for i, m in enumerate(models)}
    wins = np.zeros((len(models), len(models)))
    for b in battles:
        i, j = index[b.model_a], index[b.model_b]
        if b.outcome == "a":
            wins[i, j] += 1
        elif b.outcome == "b":
            wins[j, i] += 1
        elif ties == "half":
            wins[i, j] += 0.5
            wins[j, i] += 0.5
    if prior > 0:
        met = np.zeros_like(wins, dtype=bool)
        for b in battles:
            met[index[b.model_a], index[b.model_b]] = met[index[b.model_b], index[b.model_a]] = True
        wins += 0.5 * prior * met
    return wins, wins + wins.T


def bradley_terry(battles: Iterable[Battle | Sequence[str]], *, base: float = 1000.0, scale: float = 400.0,
                  ties: str = "half", prior: float = 0.0, anchor: str | None = None, anchor_rating: float | None = None,
                  max_iter: int = 10_000, tol: float = 1e-10) -> dict[str, float]:
    """Maximum-likelihood Bradley–Terry ratings (Hunter's MM algorithm) on the Elo scale:
    ``R_i = scale * log10(p_i)``, shifted so ``anchor`` sits at ``anchor_rating`` (or the mean at
    ``base``). Ties: ``"half"`` (half a win each) or ``"drop"``. ``prior`` adds virtual ties to
    each pair that met (see the module docstring); with ``prior=0`` a model that never won or never
    lost has no finite rating and raises ``ValueError``. Models that only tied (``ties="drop"``) get none."""
    _check(ties, scale)
    if prior < 0:
        raise ValueError(f"prior (virtual ties per pair) must be >= 0, not {prior!r}")
    battles = as_battles(battles)
    models = models_of(battles)
    wins, games = _win_matrix(battles, models, ties, prior)
    played = games.sum(axis=1) > 0
    total_wins = wins.sum(axis=1)
    if not played.any():
        return {}
    unbounded = [m for m, w, g in zip(models, total_wins, games.sum(axis=1)) if g > 0 and (w <= 0 or w >= g)]
    if unbounded:
        raise ValueError(f"no finite Bradley–Terry rating for {', '.join(unbounded)} (never won or never lost); "
                         "give a prior (virtual ties per pair), e.g. prior=1")
    p = np.where(played, 1.0, 0.0)
    for _ in range(max_iter):
        denom = np.where(games > 0, games / np.where(games > 0, p[:, None] + p[None, :], 1.0), 0.0).sum(axis=1)
        new = np.where(played, total_wins / np.where(denom > 0, denom, 1.0), 0.0)
        new = np.where(played, new / np.exp(np.mean(np.log(new[played]))), 0.0)  # geometric mean 1
        done = np.max(np.abs(new - p)) < tol
        p = new
        if done:
            break
    ratings = {m: float(scale * np.log10(p[i])) for i, m in enumerate(models) if played[i]}
    return _anchored(ratings, base, anchor, anchor_rating)


def bootstrap(battles: Iterable[Battle | Sequence[str]], fit: Callable[[list[Battle]], dict[str, float]], *,
              rounds: int = 100, seed: int = 0) -> dict[str, dict[str, float]]:
    """``{model: {"rating", "ci_low", "ci_high", "rounds"}}``: ``fit`` on ``rounds`` resamples of the
    battles drawn with replacement (seeded); ``rating`` is the median, ``ci_*`` the 2.5 and 97.5
    percentiles, ``rounds`` how many resamples rated the model (one it is absent from, or one ``fit``
    refuses — e.g. the anchor model not drawn — does not count). ``rounds=0``: ``fit`` once, no interval."""
    battles = as_battles(battles)
    if rounds < 0:
        raise ValueError(f"rounds (bootstrap resamples) must be >= 0, not {rounds!r}")
    if rounds == 0 or not battles:
        return {m: {"rating": r, "ci_low": r, "ci_high": r, "rounds": 0} for m, r in fit(battles).items()}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {m: [] for m in models_of(battles)}
    problem = None
    for _ in range(rounds):
        picked = rng.integers(0, len(battles), size=len(battles))
        try:
            fitted = fit([battles[i] for i in picked])
        except ValueError as e:
            problem = e
            continue
        for m, r in fitted.items():
            samples[m].append(r)
    if not any(samples.values()) and problem is not None:
        raise problem
    out = {}
    for m, values in samples.items():
        if values:
            lo, med, hi = np.percentile(values, [2.5, 50, 97.5])
            out[m] = {"rating": float(med), "ci_low": float(lo), "ci_high": float(hi), "rounds": len(values)}
    return out


def record_counts(battles: Iterable[Battle | Sequence[str]]) -> dict[str, dict[str, int]]:
    """``{model: {"battles", "wins", "losses", "ties"}}``."""
    out: dict[str, dict[str, int]] = {}
    for b in as_battles(battles):
        for model, won, lost in ((b.model_a, "a", "b"), (b.model_b, "b", "a")):
            c = out.setdefault(model, {"battles": 0, "wins": 0, "losses": 0, "ties": 0})
            c["battles"] += 1
            c["wins" if b.outcome == won else "losses" if b.outcome == lost else "ties"] += 1
    return dict(sorted(out.items()))


def rating_table(battles: Iterable[Battle | Sequence[str]], *, k: float = 4.0, base: float = 1000.0,
                 scale: float = 400.0, ties: str = "half", prior: float = 1.0, anchor: str | None = None,
                 anchor_rating: float | None = None, rounds: int = 100, seed: int = 0) -> dict[str, Any]:
    """Both ratings with bootstrap intervals and each model's record, as one JSON-able table:
    ``{"battles", "ties", "settings", "models": [{"model", "bradley_terry": {...}, "elo": {...},
    "battles", "wins", "losses", "ties"}, ...]}`` sorted by Bradley–Terry rating (highest first)."""
    battles = as_battles(battles)
    common = {"base": base, "scale": scale, "ties": ties, "anchor": anchor, "anchor_rating": anchor_rating}
    bt = bootstrap(battles, lambda bs: bradley_terry(bs, prior=prior, **common), rounds=rounds, seed=seed)
    elo = bootstrap(battles, lambda bs: elo_ratings(bs, k=k, **common), rounds=rounds, seed=seed)
    counts = record_counts(battles)
    rows = [{"model": m, "bradley_terry": bt.get(m), "elo": elo.get(m), **counts[m]} for m in counts]
    rows.sort(key=lambda r: (-(r["bradley_terry"] or {}).get("rating", float("-inf")), r["model"]))
    return {"battles": len(battles), "ties": sum(b.outcome == "tie" for b in battles),
            "settings": {**common, "k": k, "prior": prior, "bootstrap_rounds": rounds, "seed": seed},
            "models": rows}
