"""LLM Decontaminator: embedding top-k retrieval, then an LLM asked whether each pair is a rephrase.

Yang, Chiang, Zheng, Gonzalez & Stoica 2023, "Rethinking Benchmark and Contamination for Language
Models with Rephrased Samples" (arXiv 2311.04850; lm-sys/llm-decontaminator). Rephrased or
translated test items pass n-gram checks, yet training on them lifts a 13B model to GPT-4-level
benchmark scores. The detector retrieves the most similar pairs by embedding and asks a strong model
whether the two are the same question; the prompts (``decontaminate_llm_system.jinja``, variants
``knowledge`` — also the paper's ``math`` prompt —, ``strong_math`` and ``code``) are the paper's,
with the pair in ``decontaminate_llm_user.jinja`` ("Part 1: {…} Part 2: {…}").

Orientation, stated: the paper retrieves, for each test item, its top-k training rows; here, for each
row, its top-k benchmark items (so the step streams), and only pairs with cosine ≥ ``min_similarity``
are sent to the model (rows with none pass without a call). The reply's verdict is its first
``True``/``False`` (``yes``/``no`` accepted); a reply with neither is an error row, never a silent keep.
Where the backend can enforce a JSON schema the verdict is asked for as ``{"verdict": "True"|"False"}``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import numpy as np

from ..pipeline.model_step import ModelStep, RowError, chat
from ..pipeline.step import Rejected
from ..records import adopt_rows
from .decontaminate import Benchmark, Match, load_benchmark
from .embeddings import as_columns, get_encoder, record_text
from .judges.constrained import verdict_schema

__all__ = ["PROMPT_KINDS", "DecontaminateLLM", "parse_verdict"]

PROMPT_KINDS = ("knowledge", "math", "strong_math", "code")
_VERDICT = re.compile(r"\b(true|false|yes|no)\b", re.IGNORECASE)
#: the verdict alone (the paper asks for True/False and nothing else), where the backend can enforce it
VERDICT_SCHEMA = verdict_schema("verdict", ["True", "False"], reason_key=None)


def parse_verdict(text: str) -> bool | None:
    """True (same question), False (different), or None when the reply says neither."""
    m = _VERDICT.search(text or "")
    if m is None:
        return None
    return m.group(1).lower() in ("true", "yes")


class DecontaminateLLM(ModelStep):
    """Removes rows an LLM judges to be rephrases of a benchmark item among their top-k embedding
    neighbours (LLM Decontaminator, Yang et al. 2023, arXiv 2311.04850)."""

    type_name = "decontaminate_llm"

    def __init__(
        self,
        name: str,
        *,
        against: str | list[str],
        columns: str | list[str] = "text",
        against_columns: str | list[str] | None = None,
        id_column: str | None = None,
        top_k: int = 1,
        min_similarity: float = 0.5,
        prompt_kind: str = "knowledge",
        match_column: str = "contamination",
        model: str = "default",
        temperature: float | None = 0.0,
        max_tokens: int | None = 8,
        top_p: float | None = None,
        seed: int | None = None,
        stop: list[str] | None = None,
        n: int | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        inputs: list[str] | None = None,
    ) -> None:
        where = f"step {name!r}"
        cols = as_columns(columns, where)
        if top_k < 1:
            raise ValueError(f"{where}: top_k must be >= 1, got {top_k}")
        if not -1 <= min_similarity <= 1:
            raise ValueError(f"{where}: min_similarity is a cosine in [-1, 1], got {min_similarity}")
        if prompt_kind not in PROMPT_KINDS:
            raise ValueError(f"{where}: prompt_kind must be one of {list(PROMPT_KINDS)}, got {prompt_kind!r}")
        if n not in (None, 1):
            raise ValueError(f"{where}: the rephrase check takes one answer per pair (n=1), got n={n}")
        super().__init__(name, model=model, reads=cols, inputs=inputs or (),
                         citations=[("Yang et al. 2023, Rethinking Benchmark and Contamination for Language Models "
                                    "with Rephrased Samples (arXiv 2311.04850)")],
                         temperature=temperature, max_tokens=max_tokens, top_p=top_p, seed=seed, stop=stop,
                         logprobs=logprobs, top_logprobs=top_logprobs)
        # kept rows pass unchanged (writes nothing); the match goes only onto rejected rows
        self.columns = cols
        self.against = [against] if isinstance(against, str) else list(against)
        self.against_columns, self.id_column = against_columns, id_column
        self.top_k, self.min_similarity, self.prompt_kind = top_k, min_similarity, prompt_kind
        self.match_column = match_column
        self.system_template = self.load_template("decontaminate_llm_system.jinja")
        self.user_template = self.load_template("decontaminate_llm_user.jinja")
        self._benchmark: Benchmark | None = None

    def benchmark(self) -> Benchmark:
        if self._benchmark is None:
            items = load_benchmark(self.against, self.against_columns, self.id_column, where=f"step {self.name!r}")
            self._benchmark = Benchmark(items, method="embedding")
        return self._benchmark

    def setup(self, ctx: Any) -> None:
        super().setup(ctx)
        self.benchmark()

    def candidates(self, text: str) -> list[tuple[int, float]]:
        """The top-k benchmark items (index, cosine) at or above ``min_similarity``."""
        bench = self.benchmark()
        assert bench.vectors is not None
        q = get_encoder().encode([text])[0]
        sims = bench.vectors @ q
        k = min(self.top_k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(int(i), float(sims[i])) for i in top if sims[i] >= self.min_similarity]

    def messages(self, benchmark_text: str, candidate: str) -> list[dict[str, str]]:
        """The paper's prompt for one pair: the system prompt of ``prompt_kind``, then the two parts."""
        return chat(self.render(self.user_template, {"benchmark": benchmark_text, "candidate": candidate}),
                    self.render(self.system_template, {"kind": self.prompt_kind}))

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        text = record_text(record, self.columns, f"step {self.name!r}")
        cands = await asyncio.get_running_loop().run_in_executor(None, self.candidates, text)
        if not cands:
            return [record]
        bench = self.benchmark()
        prompts = [self.messages(bench.items[i].text, text) for i, _ in cands]
        answers = await asyncio.gather(*(self.call_constrained(record, prompt, json_schema=VERDICT_SCHEMA)
                                         for prompt in prompts))
        out = dict(record)
        for asked, ((i, sim), (resp, _)) in enumerate(zip(cands, answers), start=1):
            verdict = parse_verdict(resp.text)
            if verdict is None:
                raise RowError(f"the judge's reply says neither True nor False (benchmark {bench.items[i].ref()})",
                               raw_text=resp.text)
            if verdict:
                match = Match("llm", sim, bench.items[i], f"judged a rephrase; embedding cosine {sim:.3f}")
                out[self.match_column] = match.to_dict()
                # the rejected row keeps the match and the lineage of the calls read so far
                record.update(adopt_rows(record, out, self.name, [entry for _, entry in answers[:asked]])[0])
                return Rejected(match.reason(), round(sim, 4))
        return adopt_rows(record, out, self.name, [entry for _, entry in answers])
