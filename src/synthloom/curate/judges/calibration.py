"""Contextual calibration of a judge's label: the label's probabilities divided by the judge's bias.

Zhao et al. 2021, "Calibrate Before Use: Improving Few-Shot Performance of Language Models"
(arXiv:2102.09690): a language model asked to pick a label has a prior over the labels that does not
depend on the input (majority label, recency, common tokens). Estimate it by asking the same prompt
with content-free inputs (``"N/A"``, ``""``, ``"[MASK]"``, averaged), then divide each input's label
probabilities by it and renormalise; the label is the largest ratio. A small judge that gives one
label to everything (SmolLM2-135M puts 93–98% on "very poor" for any Magpie query, and on the lowest
LAB score for any answer) is then read by how far each input moves it.

Here the judge answers in JSON with the label first (the grammar writes the properties in the
schema's order); :func:`label_distribution` reads the probabilities at the label's first token from
the reply's top log-probabilities. Steps use :class:`ContentFreePrior` to ask the content-free prompts
once per run (they go through the response cache like any request).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ...llm.types import TokenLogprob

#: the content-free inputs of Zhao et al. 2021
CONTENT_FREE = ("N/A", "", "[MASK]")
#: how many alternatives a calibrated request asks for at each position
TOP_LOGPROBS = 20


def label_first(schema: dict[str, Any], field: str) -> dict[str, Any]:
    """``schema`` with ``field`` first among its properties (and in ``required``)."""
    props = schema["properties"]
    out = {**schema, "properties": {field: props[field], **{k: v for k, v in props.items() if k != field}}}
    if "required" in schema:
        out["required"] = [field, *[k for k in schema["required"] if k != field]]
    return out


def _mass(token: TokenLogprob, labels: Sequence[Any]) -> dict[Any, float]:
    """The probability of each label at one position: an alternative counts for the one label whose
    text it begins (``"very"`` for "very poor", ``"2"`` for 2); one that begins several, or none, is left out."""
    names = [str(label) for label in labels]
    mass: dict[Any, float] = {}
    for alt, lp in [(token.token, token.logprob), *token.top]:
        prefix = alt.strip().lstrip('"')
        hits = [label for label, name in zip(labels, names, strict=True) if prefix and name.startswith(prefix)]
        if len(hits) == 1 and lp is not None and lp > -math.inf:
            mass[hits[0]] = max(mass.get(hits[0], 0.0), math.exp(lp))  # the same token listed twice counts once
    return mass


def label_distribution(logprobs: Sequence[TokenLogprob] | None, field: str,
                       labels: Sequence[Any]) -> dict[Any, float] | None:
    """``{label: probability}`` at the first token of ``field``'s value in a JSON reply (a string value's
    opening quote is skipped), renormalised over ``labels``; ``None`` without logprobs or such a position."""
    if not logprobs:
        return None
    key = f'"{field}":'
    text = ""
    for i, token in enumerate(logprobs):
        if re.sub(r"\s+", "", text).endswith(key):
            for position in logprobs[i:i + 2]:  # the value's first token, or the one after its opening quote
                mass = _mass(position, labels)
                total = sum(mass.values())
                if total > 0:
                    return {label: mass.get(label, 0.0) / total for label in labels}
            return None
        text += token.token
    return None


def calibrated(dist: dict[Any, float], prior: dict[Any, float], floor: float = 1e-6) -> dict[Any, float]:
    """``p(label | input) / p(label | content-free)``, renormalised (a label the prior never gives is
    divided by ``floor``)."""
    ratios = {label: p / max(prior.get(label, 0.0), floor) for label, p in dist.items()}
    total = sum(ratios.values())
    return {label: r / total for label, r in ratios.items()} if total > 0 else dict(dist)


def content_free(record: dict[str, Any], columns: Sequence[str], text: str) -> dict[str, Any]:
    """``record`` with every text in ``columns`` replaced by the content-free ``text``."""
    return {**record, **{c: text for c in columns if isinstance(record.get(c), str) or c not in record}}


class ContentFreePrior:
    """The judge's label distribution on the content-free inputs, computed once (concurrent callers
    wait for the first) and kept; ``{}`` when no content-free reply had readable probabilities."""

    def __init__(self) -> None:
        self.value: dict[Any, float] | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self, ask: Callable[[str], Awaitable[dict[Any, float] | None]]) -> dict[Any, float] | None:
        """The prior, asking ``ask(content_free_text)`` for each content-free input the first time."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.value is None:
                dists = [d for d in [await ask(text) for text in CONTENT_FREE] if d]
                labels = {label for d in dists for label in d}
                self.value = {label: sum(d.get(label, 0.0) for d in dists) / len(dists) for label in labels} if dists else {}
        return self.value or None


def check_setting(setting: Any, where: str, option: str = "calibrate") -> None:
    """A ``calibrate`` option (or another true/false/auto ``option``) must be true, false or ``"auto"``."""
    if setting not in (True, False, "auto"):
        raise ValueError(f"{where}: {option} must be true, false or auto, not {setting!r}")


def on_embedded_model(ctx: Any, model: str) -> bool:
    """Whether the run's model ``model`` is the embedded demo model (what ``auto`` settings look at)."""
    config = getattr(getattr(ctx, "models", None), "configs", {}).get(model)
    return "embedded" in (getattr(config, "spec", None), getattr(config, "model", None))


def calibrating(setting: bool | str, ctx: Any, model: str) -> bool:
    """Whether a step calibrates: ``True``/``False`` as given; ``"auto"`` only when ``model`` is the
    embedded demo model. On a quality judge the content-free inputs are themselves poor ("N/A" *is* a
    very poor query), so for a capable judge the prior is a fair verdict rather than a bias, and dividing by
    it would lift every label; the small embedded judge gives the same label to everything, and there the
    division is what lets its labels differ at all."""
    if setting != "auto":
        return bool(setting)
    return on_embedded_model(ctx, model)
