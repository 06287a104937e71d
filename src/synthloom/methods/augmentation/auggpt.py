"""AugGPT: rephrasing augmentation of a small labelled text-classification set.

Dai, H., Liu, Z., Liao, W., et al. (2023). *AugGPT: Leveraging ChatGPT for Text Data Augmentation*.
arXiv:2302.13007 (IEEE Transactions on Big Data, 2025).

The paper asks ChatGPT to rephrase each training sentence into several (six in its experiments)
conceptually similar but differently worded samples, keeps the label of the original for each,
and trains the classifier on the originals plus the rephrasings; it measures faithfulness by the
embedding similarity of a rephrasing to its original. :class:`AugGPT` (``auggpt``) asks ``k`` times
for one rephrasing (``auggpt.jinja``; ``k`` independent samples rather than one reply holding a
list) and emits one row per rephrasing with the label kept; the ``similarity_filter`` step
(:mod:`.similarity`) then drops near-copies and drifted rephrasings.
"""

from __future__ import annotations

import re
from typing import Any

from ...pipeline.model_step import ModelStep, chat, is_refusal
from ...pipeline.step import Rejected
from ...records import adopt_rows
from ..fanout import bounded, check_max_fanout

CITATION = "Dai et al. 2023, AugGPT: Leveraging ChatGPT for Text Data Augmentation, arXiv:2302.13007"
_PREAMBLE = re.compile(r"\A\s*(?:rephrased(?: sentence)?|paraphrase|sure[^:\n]*|here[^:\n]*)\s*:\s*", re.IGNORECASE)


def clean_rephrasing(text: str) -> str:
    """The rephrasing without a label line ("Rephrased sentence:"), surrounding quotes, or what
    follows its first blank line."""
    text = _PREAMBLE.sub("", text.strip(), count=1).split("\n\n", 1)[0].strip()
    return text.strip("\"“”'").strip()


class AugGPT(ModelStep):
    """Rephrases the text in ``column`` ``k`` times (``max_fanout`` bounds ``k``; the recipes pass
    ``-n``) and emits one row per rephrasing: the record (its ``label_column`` kept) with the
    rephrasing in ``output`` and its number in ``variant``; an expand step. Empty, refused, cut-off
    and duplicate rephrasings are left out; a record none of whose rephrasings is usable is rejected
    with the reasons."""

    type_name = "auggpt"
    default_sampling = {"temperature": 1.0, "max_tokens": 128}

    def __init__(self, name: str, *, column: str = "text", label_column: str | None = "label", k: int = 6,
                 max_fanout: int | None = None, output: str = "augmented", **kwargs: Any) -> None:
        if k < 1:
            raise ValueError(f"k (rephrasings per sample) must be >= 1, not {k}")
        kwargs.setdefault("citations", [CITATION])
        reads = [column] + ([label_column] if label_column else [])
        super().__init__(name, reads=reads, writes=[output, "variant"], **kwargs)
        self.column, self.label_column, self.output = column, label_column, output
        self.k = bounded(k, check_max_fanout(max_fanout))
        self.prompt = self.load_template("auggpt.jinja")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        text = record.get(self.column)
        if not isinstance(text, str) or not text.strip():
            return Rejected(f"column {self.column!r} has no text to rephrase")
        if self.label_column and record.get(self.label_column) is None:
            return Rejected(f"column {self.label_column!r} has no label: an augmented row must keep one")
        label = record.get(self.label_column) if self.label_column else None
        messages = chat(self.render(self.prompt, {"text": text.strip(), "label_name": label}))
        response, lineage = await self.call(record, messages, n=self.k)
        rows, seen, reasons = [], {" ".join(text.lower().split())}, []
        for j, choice in enumerate(response.choices[: self.k]):
            candidate = clean_rephrasing(choice.text or "")
            key = " ".join(candidate.lower().split())
            if choice.finish_reason == "length":
                reasons.append(f"{j}: hit max_tokens")
            elif not candidate:
                reasons.append(f"{j}: empty")
            elif is_refusal(candidate):
                reasons.append(f"{j}: refused")
            elif key in seen:
                reasons.append(f"{j}: a copy of the sample or of an earlier rephrasing")
            else:
                seen.add(key)
                rows.append({**record, self.output: candidate, "variant": j})
        if not rows:
            return Rejected(f"no usable rephrasing of {len(response.choices)} ({'; '.join(reasons)})")
        return adopt_rows(record, rows, self.name, [lineage])
