"""The preference-pair row the pair-making methods (CLAIR, Self-Rewarding, SPIN) emit.

The same columns as the ``pairs`` step's rows (what the TRL DPO export reads): ``prompt``, ``chosen``,
``rejected`` (str); ``chosen_score``, ``rejected_score``, ``margin`` (float or None);
``chosen_model``, ``rejected_model`` (str or None); ``pair_rule``; ``system`` (str or None) and, for
a multi-turn prompt, ``prompt_messages``. Methods add their own columns beside these.
"""

from __future__ import annotations

from typing import Any

from .prompt_columns import PromptColumns

PAIR_COLUMNS = ("prompt", "chosen", "rejected", "chosen_score", "rejected_score", "chosen_model", "rejected_model",
                "margin", "pair_rule", "system")


def pair_columns(columns: PromptColumns, *extra: str) -> list[str]:
    """The columns a pair-making step writes (``prompt_messages`` with a multi-turn prompt)."""
    return [*PAIR_COLUMNS, *(["prompt_messages"] if columns.prompt_messages else []), *extra]


def pair_row(record: dict[str, Any], columns: PromptColumns, *, chosen: str, rejected: str, pair_rule: str,
             chosen_score: float | None = None, rejected_score: float | None = None, chosen_model: str | None = None,
             rejected_model: str | None = None, **extra: Any) -> dict[str, Any]:
    """``record``'s columns, its prompt fields (``prompt``, ``system``, ``prompt_messages``), the pair
    (``margin`` = chosen − rejected score when both are known) and ``extra``."""
    hi = None if chosen_score is None else float(chosen_score)
    lo = None if rejected_score is None else float(rejected_score)
    return {**record, **columns.fields(record), "chosen": chosen, "rejected": rejected, "chosen_score": hi,
            "rejected_score": lo, "chosen_model": chosen_model, "rejected_model": rejected_model,
            "margin": None if hi is None or lo is None else hi - lo, "pair_rule": pair_rule, **extra}
