"""WRAP: rephrasing web text in the styles of the pre-training data a model should see.

Maini, P., Seto, S., Bai, H., Grangier, D., Zhang, Y., Jaitly, N. (2024). *Rephrasing the Web: A
Recipe for Compute and Data-Efficient Language Modeling*. ACL 2024, arXiv:2401.16380.

An instruction-tuned model (the paper: Mistral-7B-Instruct) rephrases each chunk of web text
(about 300 tokens) in one of four styles, with the paper's prompts (``wrap.jinja``) under its chat
system prompt (``wrap_system.jinja``):

* ``easy``: "a very small vocabulary and extremely simple sentences that a toddler will understand";
* ``medium``: "high quality English language as in sentences on Wikipedia";
* ``hard``: "very terse and abstruse language that only an erudite scholar will understand";
* ``qa``: "a conversational format with multiple tags of "Question:" followed by "Answer:"".

The ``wrap`` recipe reads documents (``type: documents``), cuts them into chunks of at most 300
tokens (``type: chunk``, never inside a word), rephrases each chunk with this step and writes real and
rephrased text mixed 1:1 by tokens with a manifest (``type: wrap_mix``, :mod:`.wrap_mix`). The paper applies no
filter; this step departs from it where a reply cannot be training text: a preamble line ("Here is
a paraphrase of the paragraph:") is cut, and an empty or refused reply, a reply cut off by
``max_tokens``, a reply much shorter than the passage (``min_length_ratio`` of its words) or a
``qa`` reply without a single Question/Answer pair is rejected.
"""

from __future__ import annotations

import re
from typing import Any

from ...pipeline.model_step import ModelStep, chat, reply_text
from ...pipeline.step import Rejected
from ...records import adopt_rows

CITATION = ("Maini et al. 2024, Rephrasing the Web: A Recipe for Compute and Data-Efficient Language Modeling, "
            "arXiv:2401.16380")
STYLES = ("easy", "medium", "hard", "qa")
_QA_PAIR = re.compile(r"Question\s*:.+?Answer\s*:\s*\S", re.IGNORECASE | re.DOTALL)
_PREAMBLE = re.compile(r"\A\s*(?:sure|certainly|okay|of course|here(?:'s| is| are))\b[^\n]*:[ \t]*\n+", re.IGNORECASE)


def strip_preamble(text: str) -> str:
    """The reply without a first line that only announces it ("Here's a paraphrase:")."""
    return _PREAMBLE.sub("", text, count=1).strip()


class WrapRephrase(ModelStep):
    """Rephrases the text in column ``column`` in WRAP's ``style`` (``easy``, ``medium``, ``hard`` or
    ``qa``) into column ``output``; a map step (the row keeps its id). For several styles, use one
    step per style."""

    type_name = "wrap"
    default_sampling = {"temperature": 0.7, "max_tokens": 1024}

    def __init__(self, name: str, *, style: str = "medium", column: str = "text", output: str = "rephrased",
                 min_length_ratio: float = 0.25, **kwargs: Any) -> None:
        if style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
        if not 0 <= min_length_ratio < 10:
            raise ValueError(f"min_length_ratio must be between 0 and 10, not {min_length_ratio!r}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=[column], writes=[output], **kwargs)
        self.style, self.column, self.output, self.min_length_ratio = style, column, output, min_length_ratio
        self.prompt = self.load_template("wrap.jinja")
        self.system = self.load_template("wrap_system.jinja").strip()

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        text = record.get(self.column)
        if not isinstance(text, str) or not text.strip():
            return Rejected(f"column {self.column!r} has no text to rephrase")
        messages = chat(self.render(self.prompt, {"style": self.style, "text": text.strip()}), system=self.system)
        response, lineage = await self.call(record, messages)
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the rephrasing hit max_tokens (finish_reason=length)")
        rephrased = reply_text(strip_preamble(response.text or ""), f"{self.style} rephrasing")
        if isinstance(rephrased, Rejected):
            return rephrased
        ratio = len(rephrased.split()) / len(text.split())
        if ratio < self.min_length_ratio:
            return Rejected(f"the rephrasing has {ratio:.0%} of the passage's words (min_length_ratio "
                            f"{self.min_length_ratio})", score=ratio)
        if self.style == "qa" and not _QA_PAIR.search(rephrased):
            return Rejected("qa: the reply has no Question:/Answer: pair")
        return adopt_rows(record, {**record, self.output: rephrased}, self.name, [lineage])
