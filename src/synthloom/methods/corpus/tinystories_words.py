"""Does a TinyStories story use the words it was asked for? Lemma-ish matching, no tagger.

TinyStories (Eldan & Li 2023, arXiv:2305.07759) asks for one verb, one noun and one adjective in
each story; a story may say "jumped" for "jump", "mice" for "mouse" or "bigger" for "big". A
required word counts as used when the story has one of the forms :func:`word_forms` makes from it:
the word, its regular inflections (``-s``/``-es``/``-ies``, ``-ed``/``-d``/``-ied``, ``-ing`` with a
dropped ``e`` or a doubled consonant, ``-er``/``-est``, ``-ly``) and the irregular forms of common
verbs, nouns and adjectives (:data:`IRREGULAR`). Over-generating a form no story uses costs nothing;
the check is for a word a story leaves out, not for grammar.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from ...pipeline.step import Rejected, StreamStep

#: irregular forms: base word -> the other forms a story may use
IRREGULAR: dict[str, tuple[str, ...]] = {
    # verbs: past, past participle (and old or British forms children's books use)
    "be": ("am", "is", "are", "was", "were", "been", "being"), "have": ("has", "had"), "do": ("does", "did", "done"),
    "begin": ("began", "begun"), "bend": ("bent",), "bite": ("bit", "bitten"), "blow": ("blew", "blown"),
    "break": ("broke", "broken"), "bring": ("brought",), "build": ("built",), "burn": ("burnt",), "buy": ("bought",),
    "catch": ("caught",), "choose": ("chose", "chosen"), "come": ("came",), "creep": ("crept",), "dig": ("dug",),
    "dive": ("dove",), "draw": ("drew", "drawn"), "dream": ("dreamt",), "drink": ("drank", "drunk"),
    "drive": ("drove", "driven"), "eat": ("ate", "eaten"), "fall": ("fell", "fallen"), "feed": ("fed",), "feel": ("felt",),
    "fight": ("fought",), "find": ("found",), "fly": ("flew", "flown"), "forget": ("forgot", "forgotten"),
    "forgive": ("forgave", "forgiven"), "freeze": ("froze", "frozen"), "get": ("got", "gotten"), "give": ("gave", "given"),
    "go": ("went", "gone", "goes"), "grow": ("grew", "grown"), "hang": ("hung",), "hear": ("heard",), "hide": ("hid", "hidden"),
    "hold": ("held",), "keep": ("kept",), "kneel": ("knelt",), "know": ("knew", "known"), "lead": ("led",), "leap": ("leapt",),
    "learn": ("learnt",), "leave": ("left",), "lend": ("lent",), "lie": ("lay", "lain", "lying"), "light": ("lit",),
    "lose": ("lost",), "make": ("made",), "mean": ("meant",), "meet": ("met",), "pay": ("paid",), "ride": ("rode", "ridden"),
    "ring": ("rang", "rung"), "run": ("ran",), "say": ("said",), "see": ("saw", "seen"), "seek": ("sought",),
    "sell": ("sold",), "send": ("sent",), "shake": ("shook", "shaken"), "shine": ("shone",), "shrink": ("shrank", "shrunk"),
    "sing": ("sang", "sung"), "sink": ("sank", "sunk"), "sit": ("sat",), "sleep": ("slept",), "slide": ("slid",),
    "spend": ("spent",), "spill": ("spilt",), "spin": ("spun",), "spit": ("spat",), "stand": ("stood",),
    "steal": ("stole", "stolen"), "stick": ("stuck",), "sweep": ("swept",), "swim": ("swam", "swum"), "swing": ("swung",),
    "take": ("took", "taken"), "teach": ("taught",), "tear": ("tore", "torn"), "tell": ("told",), "think": ("thought",),
    "throw": ("threw", "thrown"), "wake": ("woke", "woken"), "wear": ("wore", "worn"), "weep": ("wept",), "win": ("won",),
    "write": ("wrote", "written"), "fit": ("fitted",),
    # nouns: plurals
    "mouse": ("mice",), "tooth": ("teeth",), "foot": ("feet",), "goose": ("geese",), "child": ("children",),
    "person": ("people",), "ox": ("oxen",), "leaf": ("leaves",), "knife": ("knives",), "wolf": ("wolves",),
    "shelf": ("shelves",), "calf": ("calves",), "half": ("halves",), "loaf": ("loaves",), "scarf": ("scarves",),
    "elf": ("elves",), "wife": ("wives",), "life": ("lives",), "thief": ("thieves",), "cactus": ("cacti",),
    "hoof": ("hooves",), "dwarf": ("dwarves",),
    # adjectives: comparison
    "good": ("better", "best", "well"), "bad": ("worse", "worst", "badly"), "far": ("farther", "further", "farthest"),
    "little": ("less", "least"), "many": ("more", "most"),
}
_WORD = re.compile(r"[a-z]+")
_VOWELS = set("aeiou")


def _consonant(ch: str) -> bool:
    return ch.isalpha() and ch not in _VOWELS


@functools.lru_cache(maxsize=8192)
def word_forms(word: str) -> frozenset[str]:
    """Every form of ``word`` (lowercase, one word) a story may use for it: regular inflections and
    the irregular ones of :data:`IRREGULAR`."""
    w = word.lower().strip()
    forms = {w, w + "s", w + "es", w + "ed", w + "ing", w + "er", w + "est", w + "ly"}
    forms |= set(IRREGULAR.get(w, ()))
    if w.endswith("e"):
        stem = w[:-1]
        forms |= {w + "d", w + "r", w + "st", stem + "ing"}
        if w.endswith("le"):
            forms.add(w[:-1] + "y")  # gentle -> gently
        if w.endswith("ie"):
            forms.add(w[:-2] + "ying")  # tie -> tying
    if w.endswith("y") and len(w) > 2 and _consonant(w[-2]):
        stem = w[:-1]
        forms |= {stem + "ies", stem + "ied", stem + "ier", stem + "iest", stem + "ily", stem + "iness"}
    if w.endswith(("f", "fe")):
        forms.add(w.rsplit("f", 1)[0] + "ves")
    if w.endswith("man") and len(w) > 4:
        forms.add(w[:-3] + "men")  # fisherman -> fishermen
    if w.endswith("ic"):
        forms |= {w + "ally", w + "ked", w + "king"}
    if len(w) >= 3 and _consonant(w[-1]) and w[-1] not in "wxy" and w[-2] in _VOWELS and _consonant(w[-3]):
        double = w + w[-1]  # stop -> stopped, big -> bigger
        forms |= {double + "ed", double + "ing", double + "er", double + "est"}
    return frozenset(forms)


def story_words(text: str) -> set[str]:
    """The lowercase words of ``text`` (``dog's`` gives ``dog``; hyphenated words give their parts)."""
    return set(_WORD.findall(text.lower()))


def uses_word(text_words: set[str], word: str, text: str = "") -> bool:
    """Whether a story (its :func:`story_words`) uses ``word`` in some form; a phrase of several
    words must appear in order in ``text``, its last word in any form."""
    parts = _WORD.findall(word.lower())
    if not parts:
        return True
    if len(parts) == 1:
        return not text_words.isdisjoint(word_forms(parts[0]))
    head = r"\s+".join(map(re.escape, parts[:-1]))
    tail = "|".join(sorted(map(re.escape, word_forms(parts[-1])), key=len, reverse=True))
    return re.search(rf"\b{head}\s+(?:{tail})\b", text.lower()) is not None


def missing_words(text: str, words: Iterable[tuple[str, str]]) -> list[str]:
    """``"column 'word'"`` for each ``(column, word)`` the story ``text`` does not use."""
    found = story_words(text)
    return [f"{column} {word!r}" for column, word in words if word and not uses_word(found, str(word), text)]


class TinyStoriesWords(StreamStep):
    """Checks that the story in ``column`` uses the words of ``word_columns`` (TinyStories asks for one
    verb, one noun and one adjective), inflections accepted (:func:`word_forms`), and lists the missed
    words in column ``output`` (``[]`` when all are used). ``on_missing``: ``reject`` (default) rejects
    a story that misses a word, naming it; ``tag`` keeps every story."""

    type_name = "tinystories_words"
    kind = "filter"

    def __init__(self, name: str, *, column: str = "story", word_columns: list[str] | None = None,
                 on_missing: str = "reject", output: str = "missing_words", inputs: Iterable[str] = ()) -> None:
        word_columns = list(word_columns) if word_columns is not None else ["verb", "noun", "adjective"]
        if on_missing not in ("reject", "tag"):
            raise ValueError(f"on_missing must be 'reject' or 'tag', not {on_missing!r}")
        if not word_columns:
            raise ValueError("word_columns must name at least one column of required words")
        super().__init__(name, inputs=inputs, reads=[column, *word_columns], writes=[output])
        self.column, self.word_columns, self.on_missing, self.output = column, word_columns, on_missing, output

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        story = record.get(self.column)
        if not isinstance(story, str) or not story.strip():
            return Rejected(f"column {self.column!r} has no story to check")
        required = [(c, w) for c in self.word_columns for w in _as_words(record.get(c))]
        missed = missing_words(story, required)
        if missed and self.on_missing == "reject":
            return Rejected(f"the story does not use {', '.join(missed)}", score=1 - len(missed) / len(required))
        return [{**record, self.output: missed}]


def _as_words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v]
    return [str(value)]
