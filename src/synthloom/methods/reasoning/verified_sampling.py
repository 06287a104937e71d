"""Sample solutions to a math problem and verify each one: what every verified-reasoning method shares.

:class:`VerifiedSampler` is an LLM step that, per problem record, asks the model for ``k``
solutions (one request with ``n=k``, or ``k`` requests with distinct seeds: ``sampling: seeds``),
splits off any reasoning trace (``reasoning_content`` or a ``<think>…</think>`` block), checks
each final answer against the gold answer with :mod:`synthloom.verify.math`, and hands the
verified :class:`Sample` list to :meth:`VerifiedSampler.combine`, which subclasses override to
emit rows (one per sample, one per problem, preference pairs…) or a :class:`Rejected`.

Methods built on it: rejection sampling / ReST-EM, pass-rate labels, STaR, long-CoT distillation;
the prompt is a Jinja2 template over the record (``template:`` inline, default ``solve.jinja``).
Every model call goes through :meth:`ModelStep.call`; rows get ids and lineage from :func:`adopt_rows`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from ...pipeline.model_step import ModelStep, chat
from ...pipeline.step import Rejected
from ...records import adopt_rows, user_columns
from ...verify.math import MathVerdict, MathVerifier, averify_math

_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)


def split_reasoning(text: str, reasoning: str | None = None) -> tuple[str | None, str, bool]:
    """``(reasoning, answer_text, complete)``: the server's ``reasoning_content`` when given, else
    the ``<think>…</think>`` blocks of ``text``; ``answer_text`` is what remains. ``complete`` is
    False when a ``<think>`` block was opened and never closed (the output was cut off)."""
    if reasoning:
        return reasoning.strip(), _THINK.sub("", text).strip(), True
    blocks = _THINK.findall(text)
    rest = _THINK.sub("", text)
    lower = rest.lower()
    if "<think>" in lower:  # opened, never closed
        head, _, tail = rest.partition(rest[lower.index("<think>"):lower.index("<think>") + 7])
        return (tail.strip() or None), head.strip(), False
    if "</think>" in lower:  # some templates open the block in the prompt: text starts inside it
        i = lower.index("</think>")
        return rest[:i].strip() or None, rest[i + 8:].strip(), True
    return ("\n\n".join(b.strip() for b in blocks) or None), rest.strip(), True


def reason_for(verdict: MathVerdict) -> str:
    """A rejected row's reason for a failed verification."""
    if verdict.status == "wrong":
        return f"wrong answer: predicted {verdict.pred}, gold {verdict.gold}"
    if verdict.status == "no_answer":
        return "no final answer found in the solution"
    if verdict.status == "timeout":
        return f"verification timed out ({verdict.detail})"
    return f"verification error: {verdict.detail}"


@dataclass
class Sample:
    """One sampled solution and its verdict; ``text`` is the answer part (reasoning split off)."""

    index: int
    text: str
    reasoning: str | None
    finish_reason: str | None
    complete: bool
    verdict: MathVerdict

    @property
    def correct(self) -> bool:
        return self.verdict.correct

    def columns(self) -> dict[str, Any]:
        return {"correct": self.verdict.correct, "verify_status": self.verdict.status,
                "pred_answer": self.verdict.pred, "gold_answer": self.verdict.gold}


class VerifiedSampler(ModelStep):
    """Base of the verified-reasoning methods: ``k`` samples per problem, each verified.
    Subclasses implement :meth:`combine`, or override :meth:`process` for a flow of their own
    (and then leave ``combine`` alone). Options: ``question_column``, ``gold_column``, ``k``,
    ``sampling`` (``n``: one request with n=k; ``seeds``: k requests with seeds ``seed``, ``seed``+1…),
    ``template`` / ``system`` (Jinja2; default the packaged ``default_template`` /
    ``default_system`` files), sampling settings (``seed``: the base seed, default one derived from
    the record), ``verify_timeout`` (seconds per SymPy check)."""

    takes_sampling = False  # the sampling options below are declared: ``k`` replaces ``n``
    default_template: ClassVar[str] = "solve.jinja"
    default_system: ClassVar[str | None] = None

    def __init__(self, name: str, *, question_column: str = "question", gold_column: str = "answer", k: int = 4,
                 sampling: str = "n", template: str | None = None, system: str | None = None,
                 temperature: float = 0.8, max_tokens: int = 512, top_p: float | None = None,
                 stop: str | list[str] | None = None, seed: int | None = None, verify_timeout: float = 5.0,
                 model: str = "default", inputs: Iterable[str] = (), citations: Iterable[str] = ()) -> None:
        if int(k) < 1:
            raise ValueError(f"k must be >= 1 (samples per problem), not {k}")
        if sampling not in ("n", "seeds"):
            raise ValueError(f"sampling must be 'n' (one request, n=k) or 'seeds' (k requests), not {sampling!r}")
        super().__init__(name, model=model, inputs=inputs, citations=citations, reads=[question_column, gold_column],
                         temperature=temperature, max_tokens=max_tokens, top_p=top_p, stop=stop, seed=seed)
        self.template = template if template is not None else self.load_template(self.default_template)
        if system is None and self.default_system:
            system = self.load_template(self.default_system)
        self.system_template = system
        self.read_columns(self.template, self.system_template)
        self.question_column = question_column
        self.gold_column = gold_column
        self.k = int(k)
        self.sampling_mode = sampling
        self.verify_timeout = float(verify_timeout)
        self._verifier: MathVerifier | None = None

    def messages(self, record: dict[str, Any], template: str | None = None) -> list[dict[str, str]]:
        """The chat for ``record``: ``template`` (default the solve ``template``) and the system
        template, rendered with ``question`` and ``gold`` in scope."""
        view = {**record, "question": record.get(self.question_column), "gold": record.get(self.gold_column)}
        system = self.render(self.system_template, view) if self.system_template else None
        return chat(self.render(template or self.template, view), system)

    def uses_model(self, name: str | None) -> str:
        """``name`` (default: the step's model), declared among the models this step calls."""
        name = name or self.model_name
        if name not in self.models:
            self.models.append(name)
        return name

    # -- sampling and verifying --------------------------------------------------------------
    @property
    def verifier(self) -> MathVerifier:
        if self._verifier is None:
            self._verifier = MathVerifier(workers=1, timeout=self.verify_timeout)
        return self._verifier

    async def aclose(self) -> None:
        if self._verifier is not None:
            self._verifier.close()
            self._verifier = None

    async def sample(self, record: dict[str, Any], messages: list[dict[str, str]], k: int, *,
                     salt: str = "", model: str | None = None, lineage: dict[str, Any] | None = None,
                     **overrides: Any) -> tuple[list[tuple[str, str | None, str | None]], list[dict[str, Any]]]:
        """``k`` completions ``(text, reasoning, finish_reason)`` and their lineage entries (with the
        fields of ``lineage`` added). ``model`` names another of the recipe's models (default: the
        step's); ``overrides`` replace sampling settings for this call (e.g. ``temperature=0``;
        ``None`` keeps the step's)."""
        seed = self.sampling.get("seed")
        seed = self.seed_for(record, salt) if seed is None else seed  # seeded even at temperature 0
        if self.sampling_mode == "n" or k == 1:
            calls = [self.call(record, messages, n=k, model=model, lineage=lineage, seed=seed, **overrides)]
        else:
            calls = [self.call(record, messages, n=1, model=model, lineage=lineage, seed=(seed + j) & 0x7FFFFFFF,
                               **overrides) for j in range(k)]
        answers = await asyncio.gather(*calls)
        out = [(c.text or "", c.reasoning, c.finish_reason) for response, _ in answers for c in response.choices]
        return out[:k], [entry for _, entry in answers]

    async def verify(self, raw: list[tuple[str, str | None, str | None]], gold: Any, start: int = 0) -> list[Sample]:
        async def one(j: int, item: tuple[str, str | None, str | None]) -> Sample:
            text, reasoning, finish = item
            trace, answer_text, complete = split_reasoning(text, reasoning)
            if not complete:
                verdict = MathVerdict(False, "no_answer", None, None, "the reasoning block was never closed")
            else:
                verdict = await averify_math(answer_text, gold, verifier=self.verifier)
            return Sample(start + j, answer_text, trace, finish, complete, verdict)

        return list(await asyncio.gather(*(one(j, item) for j, item in enumerate(raw))))

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        raw, lineage = await self.sample(record, self.messages(record), self.k)
        samples = await self.verify(raw, record.get(self.gold_column))
        out = self.combine(record, samples)
        if isinstance(out, Rejected):
            return out
        return adopt_rows(record, out, self.name, lineage)

    def combine(self, record: dict[str, Any], samples: list[Sample]) -> list[dict[str, Any]] | dict[str, Any] | Rejected:
        """The rows for one problem from its verified samples; the base :meth:`process` calls it.
        A subclass overrides either this or :meth:`process` (then it need not define ``combine``)."""
        raise NotImplementedError(f"{type(self).__name__} must override combine() (or process(), which calls it)")

    def base_columns(self, record: dict[str, Any]) -> dict[str, Any]:
        """The problem's own columns (no id / lineage), to start an output row from."""
        return dict(user_columns(record))
