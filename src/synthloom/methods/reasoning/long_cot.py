"""Long chain-of-thought distillation: a reasoning model's trace kept apart from its answer.

DeepSeek-AI 2025, "DeepSeek-R1: Incentivizing Reasoning Capability in LLMs via Reinforcement
Learning", arXiv:2501.12948 (§2.3.3 / §2.4: ~600k reasoning samples by rejection sampling from the
RL checkpoint, kept only if the final answer is correct; distilled into smaller models); the same
recipe at scale in OpenThoughts (Guha et al. 2025, arXiv:2506.04178) and s1 (Muennighoff et al.
2025, arXiv:2501.19393).

The teacher's reasoning comes either as ``reasoning_content`` (servers that split it off) or as
``<think>…</think>`` in the text. It is stored in ``reasoning``; the text after it is the
``response``, and only the response's final answer is verified (an answer that appears only inside
the thinking does not count). Rejected: truncated outputs (``finish_reason == length`` or an
unclosed ``<think>``), outputs without a trace when ``require_reasoning``, wrong answers, and — R1's
readability filters (§2.3.3, :mod:`.long_cot_filters`) — traces that mix languages (more than
``max_language_mixing`` of their letters in a script other than the problem's), that hold a code
block, or that have a paragraph over ``max_paragraph_words`` words. The s1-style selection of
hard problems spread over domains with the longest traces is the ``long_cot_select`` step
(:mod:`.long_cot_select`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected
from .long_cot_filters import language_mixing, main_script, readability_problem
from .verified_sampling import Sample, VerifiedSampler, reason_for

CITATION = ("DeepSeek-AI 2025, DeepSeek-R1: Incentivizing Reasoning Capability in LLMs via Reinforcement Learning, "
            "arXiv:2501.12948")
COLUMNS = ("reasoning", "response", "pred_answer", "gold_answer", "correct", "verify_status", "sample_index")


class LongCoTDistill(VerifiedSampler):
    """``k`` teacher samples per problem; keeps up to ``max_per_problem`` whose answer (outside the
    reasoning) verifies and whose text passes the readability filters, each row with ``reasoning``
    and ``response`` kept apart. ``max_language_mixing`` (share of letters in another script than
    the problem's; ``None``: no check), ``max_paragraph_words`` (``None``: no check) and
    ``allow_code_blocks`` set the filters."""

    type_name = "long_cot"
    default_system = "long_cot_system.jinja"

    def __init__(self, name: str, *, k: int = 1, max_per_problem: int = 1, require_reasoning: bool = True,
                 max_language_mixing: float | None = 0.01, max_paragraph_words: int | None = 300,
                 allow_code_blocks: bool = False, temperature: float = 0.6, max_tokens: int = 4096,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        if int(max_per_problem) < 1:
            raise ValueError(f"max_per_problem must be >= 1, not {max_per_problem}")
        if max_language_mixing is not None and not 0 <= float(max_language_mixing) < 1:
            raise ValueError(f"max_language_mixing must be in [0, 1) (share of letters in another script), "
                             f"or null for no check, not {max_language_mixing}")
        if max_paragraph_words is not None and int(max_paragraph_words) < 1:
            raise ValueError(f"max_paragraph_words must be >= 1, or null for no check, not {max_paragraph_words}")
        super().__init__(name, k=k, temperature=temperature, max_tokens=max_tokens,
                         citations=[CITATION, *citations], **kwargs)
        self.writes = set(COLUMNS)
        self.max_per_problem = int(max_per_problem)
        self.require_reasoning = bool(require_reasoning)
        self.max_language_mixing = None if max_language_mixing is None else float(max_language_mixing)
        self.max_paragraph_words = None if max_paragraph_words is None else int(max_paragraph_words)
        self.allow_code_blocks = bool(allow_code_blocks)

    def why_not(self, s: Sample, script: str = "Latin") -> str | None:
        """Why sample ``s`` is not kept (``script``: the problem's main script), or ``None``."""
        if s.finish_reason == "length" or not s.complete:
            return "truncated: the output hit max_tokens before its answer"
        if self.require_reasoning and not s.reasoning:
            return "no reasoning trace (neither reasoning_content nor a <think> block)"
        if not s.correct:
            return reason_for(s.verdict)
        for part, text in (("reasoning", s.reasoning), ("response", s.text)):
            if not text:
                continue
            if self.max_language_mixing is not None:
                share, other = language_mixing(text, script)
                if share > self.max_language_mixing:
                    return (f"language mixing: {share:.0%} of the {part}'s letters are {other}, not {script} "
                            f"(max {self.max_language_mixing:g})")
            problem = readability_problem(text, max_paragraph_words=self.max_paragraph_words,
                                          allow_code_blocks=self.allow_code_blocks)
            if problem:
                return f"hard to read: the {part} has {problem}"
        return None

    def combine(self, record: dict[str, Any], samples: list[Sample]) -> list[dict[str, Any]] | Rejected:
        kept, reasons = [], []
        script = main_script(str(record.get(self.question_column) or ""))
        for s in samples:
            why = self.why_not(s, script)
            if why is None:
                kept.append(s)
            else:
                reasons.append(why)
        if not kept:
            first = reasons[0] if len(set(reasons)) == 1 else "; ".join(dict.fromkeys(reasons))
            return Rejected(f"no verified sample of {len(samples)}: {first}", 0.0)
        base = self.base_columns(record)
        return [{**base, "reasoning": s.reasoning, "response": s.text, "pred_answer": s.verdict.pred,
                 "gold_answer": s.verdict.gold, "correct": True, "verify_status": s.verdict.status,
                 "sample_index": s.index} for s in kept[: self.max_per_problem]]
