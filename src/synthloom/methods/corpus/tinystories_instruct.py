"""TinyStories-Instruct: each story preceded by an instruction a small model learns to follow.

Eldan & Li 2023 (arXiv:2305.07759, section 2): the instructions are of four kinds — a list of
words the story uses, a sentence that appears somewhere in it, a list of its features, a short
summary (one or two lines) of it — and "for every story we took a random subset of these
instructions, and added them in a random order" before the story. The words and features are the
ones the story was asked for (:mod:`.tinystories`), the sentence is drawn from the story, the
summary is written by the model afterwards (:class:`TinyStoriesSummary`,
``tinystories_summary.jinja``).

:class:`TinyStoriesInstruct` (``tinystories_instruct``) composes the instruction (``Features:``,
``Words:``, ``Summary:``, ``Random sentence:`` lines, as in the released dataset) and the training
text (the instruction, then ``Story:`` and the story).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Any

from ...pipeline.model_step import ModelStep, chat, reply_text
from ...pipeline.step import MapStep, Rejected
from ...records import ID, adopt_rows
from ..instructions.samplers import stable_int
from .tinystories import CITATION

#: the paper's four instruction kinds -> the line label of the released TinyStories-Instruct data
KINDS: dict[str, str] = {"features": "Features", "words": "Words", "summary": "Summary", "sentence": "Random sentence"}
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]+[\"”’']?")


def story_sentences(story: str, min_words: int = 4) -> list[str]:
    """The sentences of ``story`` with at least ``min_words`` words (dialogue quotes kept)."""
    found = [s.strip() for s in _SENTENCE.findall(story)]
    return [s for s in found if len(s.split()) >= min_words]


class TinyStoriesSummary(ModelStep):
    """Writes a one- or two-sentence summary of the story in ``column`` into ``output`` (the summary
    instruction of TinyStories-Instruct). A summary cut off by ``max_tokens`` keeps its complete
    sentences (rejected when it has none); a refused one is rejected; a map step."""

    type_name = "tinystories_summary"
    default_sampling = {"temperature": 0.3, "max_tokens": 96}

    def __init__(self, name: str, *, column: str = "story", output: str = "summary", **kwargs: Any) -> None:
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=[column], writes=[output], **kwargs)
        self.column, self.output = column, output
        self.prompt = self.load_template("tinystories_summary.jinja")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        story = record.get(self.column)
        if not isinstance(story, str) or not story.strip():
            return Rejected(f"column {self.column!r} has no story to summarize")
        response, lineage = await self.call(record, chat(self.render(self.prompt, {"story": story.strip()})))
        summary = reply_text(response, "summary")
        if isinstance(summary, Rejected):
            return summary
        summary = re.sub(r"\A\s*summary\s*:\s*", "", summary, flags=re.IGNORECASE).strip()
        if response.choices and response.choices[0].finish_reason == "length":
            complete = story_sentences(summary, min_words=3)
            if not complete:
                return Rejected("the summary hit max_tokens (finish_reason=length) before its first sentence ended")
            summary = " ".join(complete)
        return adopt_rows(record, {**record, self.output: " ".join(summary.split())}, self.name, [lineage])


class TinyStoriesInstruct(MapStep):
    """Composes TinyStories-Instruct's instruction for the story in ``column``: a random subset
    (``min_kinds`` to ``max_kinds`` of ``kinds``, at most all of them) of the four instruction kinds in a random order,
    drawn from the record id and ``seed``. Writes ``instruction`` (one ``Label: value`` line per
    kind), ``instruction_kinds`` and ``output`` (the training text: the instruction, ``Story:``, the
    story). A kind the row cannot fill (no features asked, no sentence of 4 words) is left out."""

    type_name = "tinystories_instruct"

    def __init__(self, name: str, *, column: str = "story", kinds: list[str] | None = None, min_kinds: int = 1,
                 max_kinds: int = 4, seed: int = 0, output: str = "text", inputs: Iterable[str] = ()) -> None:
        kinds = list(KINDS) if kinds is None else list(kinds)
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {', '.join(KINDS)}, not {kinds}")
        if not 1 <= min_kinds <= min(max_kinds, len(kinds)):
            raise ValueError(f"need 1 <= min_kinds <= max_kinds and min_kinds <= {len(kinds)} (the kinds given), "
                             f"not {min_kinds} and {max_kinds}")
        reads = [column] + (["verb", "noun", "adjective"] if "words" in kinds else []) \
            + (["features"] if "features" in kinds else []) + (["summary"] if "summary" in kinds else [])
        super().__init__(name, inputs=inputs, reads=reads, writes=["instruction", "instruction_kinds", output],
                         citations=[CITATION])
        self.column, self.kinds, self.min_kinds, self.max_kinds = column, kinds, min_kinds, max_kinds
        self.seed, self.output = int(seed), output

    def lines(self, record: dict[str, Any], rng: random.Random) -> dict[str, str]:
        """The value of each kind this row can fill."""
        out: dict[str, str] = {}
        if record.get("features"):
            out["features"] = ", ".join(record["features"])
        words = [str(record[c]) for c in ("verb", "noun", "adjective") if record.get(c)]
        if words:
            out["words"] = ", ".join(words)
        if isinstance(record.get("summary"), str) and record["summary"].strip():
            out["summary"] = record["summary"].strip()
        sentences = story_sentences(str(record.get(self.column) or ""))
        if sentences:
            out["sentence"] = rng.choice(sentences)
        return out

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        rng = random.Random(stable_int(self.seed, record.get(ID, ""), "tinystories_instruct"))
        available = self.lines(record, rng)
        usable = [k for k in self.kinds if k in available]
        k = min(rng.randint(self.min_kinds, min(self.max_kinds, len(self.kinds))), len(usable))
        chosen = rng.sample(usable, k)  # a random subset, in a random order
        instruction = "\n".join(f"{KINDS[kind]}: {available[kind]}" for kind in chosen)
        story = str(record.get(self.column) or "").strip()
        text = f"{instruction}\nStory:\n{story}" if instruction else f"Story:\n{story}"
        return {**record, "instruction": instruction, "instruction_kinds": chosen, self.output: text}
