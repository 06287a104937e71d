"""Cosmopedia: synthetic textbooks, blog posts, how-to articles and stories written from seed texts, for
pre-training.

Ben Allal, L., Lozhkov, A., Penedo, G., Wolf, T., von Werra, L. (2024). *Cosmopedia: how to create
large-scale synthetic data for pre-training*. Hugging Face (blog post, dataset and code:
github.com/huggingface/cosmopedia).

Cosmopedia (25B tokens, Mixtral-8x7B-Instruct) prompts the model with a seed (a web extract of up to
1,000 characters, with the topic of its cluster as context: :mod:`.cosmopedia_topics`), a format
(textbook unit, blog post, WikiHow article, story) and an audience (young children, high school
students, college students, researchers); varying format and audience over the same seeds is how it
keeps 30M generations diverse. The released prompts share one structure: the extract, a request for
the format "related to the extract, within the context of TOPIC", a short list of aims for the format,
the audience's constraints, and things to leave out (titles, stock openings, images). The templates
here (``cosmopedia_prompt.jinja``) are written for synthloom and follow that structure.

* :class:`CosmopediaPrompts` (``cosmopedia_prompts``): each seed row -> ``per_seed`` prompts, each a
  distinct (audience, format) pair drawn from the seed's id;
* :class:`CosmopediaGenerate` (``cosmopedia_generate``): the generation (the paper's sampling:
  temperature 0.6, top_p 0.95), a reply cut off by ``max_tokens``, refused, or shorter than
  ``min_words`` rejected (the paper drops generations under 150 tokens).

Dedup (MinHash) and benchmark decontamination come after, with the project's curation steps
(``dedup_minhash``, ``decontaminate``; the ``cosmopedia`` recipe).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import xxhash

from ...pipeline.model_step import ModelStep, chat, read_template, reply_text
from ...pipeline.step import ExpandStep, Rejected
from ...pipeline.templates import render
from ...records import ID, adopt_rows
from .cosmopedia_topics import CITATION, cut
from .wrap import strip_preamble

AUDIENCES = ("young children", "high school students", "college students", "researchers")
FORMATS = ("textbook", "blog post", "wikihow", "story")
PROMPT_TEMPLATE = Path(__file__).parent / "cosmopedia_prompt.jinja"


def draw_pairs(key: str, first: tuple[str, ...], second: tuple[str, ...], k: int) -> list[tuple[str, str]]:
    """``k`` distinct ``(first, second)`` pairs (all of them when ``k`` is larger), a pure function of ``key``."""
    pairs = [(a, b) for a in first for b in second]
    return random.Random(xxhash.xxh3_64_intdigest(key.encode())).sample(pairs, min(k, len(pairs)))


def choose(values: list[str] | tuple[str, ...] | None, known: tuple[str, ...], what: str, where: str) -> tuple[str, ...]:
    """The chosen ``values`` (all ``known`` ones when ``None``); an unknown or empty choice is refused."""
    chosen = tuple(known if values is None else values)
    unknown = [v for v in chosen if v not in known]
    if not chosen or unknown:
        raise ValueError(f"{where}: {what} must be a non-empty list of {', '.join(map(repr, known))}"
                         + (f"; unknown: {', '.join(map(repr, unknown))}" if unknown else ""))
    return tuple(dict.fromkeys(chosen))


class CosmopediaPrompts(ExpandStep):
    """Turns each seed row (text in ``column``, its cluster's ``topic``) into ``per_seed`` Cosmopedia prompts,
    each for a distinct (audience, format) pair from ``audiences`` × ``formats`` drawn from the row's id.
    The seed is cut to ``extract_chars``; the topic is added as context with probability
    ``topic_probability``. Children carry ``prompt``, ``audience``, ``format`` and ``seed_text`` (the seed,
    moved out of ``column`` so that the generation can take its place)."""

    type_name = "cosmopedia_prompts"

    def __init__(self, name: str, *, column: str = "text", topic_column: str = "topic",
                 audiences: list[str] | None = None, formats: list[str] | None = None, per_seed: int = 1,
                 extract_chars: int = 1000, topic_probability: float = 1.0, seed: int = 0,
                 inputs: list[str] | None = None) -> None:
        where = f"cosmopedia_prompts {name!r}"
        self.audiences = choose(audiences, AUDIENCES, "audiences", where)
        self.formats = choose(formats, FORMATS, "formats", where)
        if int(per_seed) < 1 or int(extract_chars) < 50:
            raise ValueError(f"{where}: per_seed must be >= 1 and extract_chars >= 50")
        if not 0.0 <= float(topic_probability) <= 1.0:
            raise ValueError(f"{where}: topic_probability must be between 0 and 1, not {topic_probability!r}")
        super().__init__(name, inputs=inputs or (), reads=[column, topic_column],
                         writes=["prompt", "audience", "format", "seed_text"], citations=[CITATION])
        self.column, self.topic_column, self.per_seed = column, topic_column, int(per_seed)
        self.extract_chars, self.topic_probability, self.seed = int(extract_chars), float(topic_probability), int(seed)
        self.template = read_template(str(PROMPT_TEMPLATE))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "template": xxhash.xxh3_64_hexdigest(self.template.encode())}

    def output_columns(self, available: set[str]) -> set[str]:
        return (available - {self.column}) | self.writes

    def prompt(self, seed_text: str, topic: str | None, audience: str, fmt: str) -> str:
        """The generation prompt for one seed, audience and format (``topic``: the cluster's, or None)."""
        context = f', within the context of "{topic}"' if topic else ""
        view = {"extract": cut(seed_text, self.extract_chars), "context": context, "audience": audience, "format": fmt}
        return render(self.template, view, self.ctx.params if self.ctx else {}).strip()

    def expand(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        seed_text = str(record.get(self.column) or "")
        topic = str(record.get(self.topic_column) or "").strip() or None
        key = f"{self.seed}\x1f{record.get(ID, '')}\x1f{self.name}"
        base = {k: v for k, v in record.items() if k not in (self.column, ID)}
        children = []
        for j, (audience, fmt) in enumerate(draw_pairs(key, self.audiences, self.formats, self.per_seed)):
            with_topic = topic if random.Random(f"{key}\x1f{j}").random() < self.topic_probability else None
            children.append({**base, "seed_text": seed_text, "audience": audience, "format": fmt,
                             "prompt": self.prompt(seed_text, with_topic, audience, fmt)})
        return children

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        if not str(record.get(self.column) or "").strip():
            return Rejected(f"column {self.column!r} has no seed text")
        return await super().process(record)


class CosmopediaGenerate(ModelStep):
    """Writes the text a Cosmopedia ``prompt`` asks for into ``output`` (a map step: the row keeps its id).
    A first line that only announces the text ("Sure! Here is a blog post:") is cut; an empty reply is an
    error row; a refusal, a reply cut off by ``max_tokens`` (with ``reject_truncated``) or one shorter than
    ``min_words`` words is rejected."""

    type_name = "cosmopedia_generate"
    default_sampling = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 2500}

    def __init__(self, name: str, *, prompt_column: str = "prompt", output: str = "text", min_words: int = 100,
                 reject_truncated: bool = True, **kwargs: Any) -> None:
        if int(min_words) < 0:
            raise ValueError(f"cosmopedia_generate {name!r}: min_words must be >= 0, not {min_words!r}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=[prompt_column], writes=[output], **kwargs)
        self.prompt_column, self.output = prompt_column, output
        self.min_words, self.reject_truncated = int(min_words), bool(reject_truncated)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        prompt = record.get(self.prompt_column)
        if not isinstance(prompt, str) or not prompt.strip():
            return Rejected(f"column {self.prompt_column!r} has no prompt")
        response, lineage = await self.call(record, chat(prompt))
        if self.reject_truncated and response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the generation hit max_tokens (finish_reason=length)")
        text = reply_text(strip_preamble(response.text or ""), f"{record.get('format', 'cosmopedia')} generation")
        if isinstance(text, Rejected):
            return text
        words = len(text.split())
        if words < self.min_words:
            return Rejected(f"the generation has {words} words (min_words {self.min_words})", float(words))
        return adopt_rows(record, {**record, self.output: text}, self.name, [lineage])
