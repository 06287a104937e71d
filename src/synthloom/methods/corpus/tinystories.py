"""TinyStories: short stories a 3–4-year-old understands, each built around three required words.

Eldan, R., Li, Y. (2023). *TinyStories: How Small Can Language Models Be and Still Speak Coherent
English?* arXiv:2305.07759.

The paper collects a vocabulary of about 1,500 basic words a 3–4-year-old knows, split into verbs,
nouns and adjectives; each generation draws one of each at random, plus a random subset of story
features (dialogue, bad ending, moral value, plot twist, foreshadowing, conflict), and asks the
model for a 3–5 paragraph story with its prompt (``tinystories_story.jinja``). TinyStories-Instruct
(:mod:`.tinystories_instruct`) precedes each story with instructions of four kinds.

* :class:`TinyStoriesSeeds` (``tinystories_seeds``) draws the words and features: the bundled
  vocabulary ``tinystories_vocabulary.json`` (about 1,500 words written for this project) or a
  file of the same shape;
* :class:`TinyStoriesStory` (``tinystories_story``) writes the story with the paper's prompt;
* :class:`~.tinystories_words.TinyStoriesWords` (``tinystories_words``) checks the story uses the
  three words, inflections accepted.
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Any

import xxhash

from ...pipeline.model_step import ModelStep, chat, reply_text
from ...pipeline.step import DrawnSource, Rejected
from ...records import adopt_rows
from ..instructions.samplers import stable_int

CITATION = ("Eldan & Li 2023, TinyStories: How Small Can Language Models Be and Still Speak Coherent English?, "
            "arXiv:2305.07759")
VOCABULARY = Path(__file__).parent / "tinystories_vocabulary.json"
PARTS = ("verbs", "nouns", "adjectives")
#: the paper's story features: the name TinyStories-Instruct writes -> the phrase the prompt asks with
FEATURES: dict[str, str] = {
    "Dialogue": "the story should contain at least one dialogue",
    "BadEnding": "the story has a bad ending",
    "MoralValue": "the story has a moral value",
    "Twist": "something unexpected happens / there is a plot twist",
    "Foreshadowing": "the narrative uses foreshadowing or setup and payoff",
    "Conflict": "the story has some form of conflict in it",
}


@lru_cache(maxsize=8)
def load_vocabulary(path: str | None = None) -> dict[str, tuple[str, ...]]:
    """The verbs, nouns and adjectives of a vocabulary file (JSON: ``{"verbs": [...], "nouns": [...],
    "adjectives": [...]}``); the bundled one when ``path`` is ``None``."""
    file = Path(path) if path else VOCABULARY
    if not file.is_file():
        raise ValueError(f"vocabulary: no such file {str(file)!r}; give a JSON file with lists "
                         f"{', '.join(PARTS)} (recipes can use ${{recipe_dir}})")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"vocabulary {file.name}: not valid JSON ({e}); fix the file") from e
    missing = [p for p in PARTS if not isinstance(data.get(p), list) or not data[p]]
    if missing:
        raise ValueError(f"vocabulary {file.name}: needs a non-empty list for {', '.join(missing)}")
    return {p: tuple(str(w).strip().lower() for w in data[p] if str(w).strip()) for p in PARTS}


class TinyStoriesSeeds(DrawnSource):
    """Source of ``n`` TinyStories prompts' ingredients: one ``verb``, one ``noun`` and one ``adjective``
    drawn at random from the vocabulary, and ``features`` (names of :data:`FEATURES`), a random subset
    of ``features`` of 0 to ``max_features`` (at most all of them) — deterministic in ``seed``."""

    type_name = "tinystories_seeds"
    columns = ("verb", "noun", "adjective", "features")

    def __init__(self, name: str, *, n: int = 100, seed: int = 0, vocabulary: str | None = None,
                 features: list[str] | None = None, max_features: int = 3) -> None:
        super().__init__(name, citations=[CITATION])
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        features = list(FEATURES) if features is None else list(features)
        unknown = [f for f in features if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; choose from {', '.join(FEATURES)}")
        if max_features < 0:
            raise ValueError(f"max_features must be >= 0, not {max_features}")
        self.words = load_vocabulary(vocabulary)
        self.n, self.seed, self.features = int(n), int(seed), features
        self.max_features = min(int(max_features), len(features))

    def draw(self, index: int) -> dict[str, Any]:
        """The ingredients of record ``index`` (a pure function of the seed and the index)."""
        rng = random.Random(stable_int(self.seed, index, "tinystories"))
        row: dict[str, Any] = {part[:-1]: rng.choice(self.words[part]) for part in PARTS}
        k = rng.randint(0, self.max_features)
        row["features"] = [self.features[i] for i in sorted(rng.sample(range(len(self.features)), k))]
        return row

    def fingerprint(self) -> str:
        return xxhash.xxh3_64_hexdigest(repr(sorted(self.words.items())).encode())


class TinyStoriesStory(ModelStep):
    """Writes a story into column ``output`` with the paper's prompt: the ``verb``, ``noun`` and
    ``adjective`` to use and the ``features`` to have (names of :data:`FEATURES`). A story cut off by
    ``max_tokens``, refused, or shorter than ``min_words`` words is rejected; a map step."""

    type_name = "tinystories_story"
    default_sampling = {"temperature": 1.0, "max_tokens": 512}

    def __init__(self, name: str, *, output: str = "story", min_words: int = 20, **kwargs: Any) -> None:
        if min_words < 0:
            raise ValueError(f"min_words must be >= 0, not {min_words}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=["verb", "noun", "adjective", "features"], writes=[output], **kwargs)
        self.output, self.min_words = output, min_words
        self.prompt = self.load_template("tinystories_story.jinja")

    def prompt_for(self, record: dict[str, Any]) -> str:
        """The paper's prompt for ``record``'s words and features."""
        names = record.get("features") or []
        unknown = [f for f in names if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown} in column 'features'; known: {', '.join(FEATURES)}")
        view = {"verb": record["verb"], "noun": record["noun"], "adjective": record["adjective"],
                "features": [FEATURES[f] for f in names]}
        return self.render(self.prompt, view).strip()

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        response, lineage = await self.call(record, chat(self.prompt_for(record)))
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the story hit max_tokens (finish_reason=length)")
        story = reply_text(response, "story")
        if isinstance(story, Rejected):
            return story
        words = len(story.split())
        if words < self.min_words:
            return Rejected(f"the story has {words} words (min_words {self.min_words})", score=words)
        return adopt_rows(record, {**record, self.output: story}, self.name, [lineage])
