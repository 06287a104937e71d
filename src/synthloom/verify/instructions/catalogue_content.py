"""Constraints on what a response says and how long it is: keywords, letters, language, length in
words / sentences / paragraphs / characters, letter case, punctuation. IFEval's ids and arguments
(Zhou et al. 2023, arXiv:2311.07911); wordings, pools and checkers written for synthloom."""

from __future__ import annotations

import random
import re
from typing import Any

from .constraint import RELATIONS, Constraint, register, relation_holds
from .text import blank_line_paragraphs, count_sentences, count_word, count_words, has_word, star_paragraphs, words

_STOP = frozenset("about above after again their there these those which while would could should other every where "
                  "write explain describe please words within without being because".split())
FALLBACK_WORDS = ("history", "energy", "example", "future", "balance", "practice", "community", "design")
#: languages the response-language checker can tell apart (ISO 639-1 -> name)
LANGUAGES = {"de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch",
             "ru": "Russian", "el": "Greek", "ar": "Arabic", "he": "Hebrew", "ko": "Korean", "hi": "Hindi",
             "bn": "Bengali", "th": "Thai", "zh": "Chinese", "ja": "Japanese"}
FIRST_WORDS = ("first", "today", "however", "finally", "imagine", "overall", "although", "another")


def prompt_keywords(prompt: str, rng: random.Random, k: int) -> list[str]:
    """``k`` distinct content words (five letters or more) of the prompt, else common words."""
    pool = list(dict.fromkeys(w.lower() for w in re.findall(r"[A-Za-z]+", prompt) if len(w) >= 5 and w.lower() not in _STOP))
    pool = pool if len(pool) >= k else list(dict.fromkeys(pool + list(FALLBACK_WORDS)))
    return rng.sample(pool, k)


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text`` by Magpie's language tagger (scripts + stopword shares)."""
    from ...methods.instructions.magpie_tagging import tag_language  # the project's one language detector

    return tag_language(text)


def _english(text: str) -> bool:
    return detect_language(text.lower()) in ("en", None)


def _relation(rng: random.Random) -> str:
    return rng.choice(RELATIONS)


def _letter_count(text: str, letter: str) -> int:
    return text.lower().count(letter.lower())


def _nth_first_word(text: str, k: dict[str, Any]) -> bool:
    paragraphs = blank_line_paragraphs(text)
    n = int(k["nth_paragraph"])
    if len(paragraphs) != int(k["num_paragraphs"]) or not 1 <= n <= len(paragraphs):
        return False
    first = words(paragraphs[n - 1])
    return bool(first) and first[0].lower() == str(k["first_word"]).lower()


def _star_paragraphs(text: str, n: int) -> bool:
    found = star_paragraphs(text)
    return found is not None and len(found) == n


def _capital_words(text: str) -> int:
    return sum(1 for w in words(text) if w.isupper() and len(w) > 1)


def _draw_nth(rng: random.Random, prompt: str) -> dict[str, Any]:
    num = rng.randint(2, 4)
    return {"num_paragraphs": num, "nth_paragraph": rng.randint(1, num), "first_word": rng.choice(FIRST_WORDS)}


register(
    Constraint("keywords:existence", ("keywords",), "Include the keywords {keywords} in the response.",
               lambda t, k: all(has_word(t, w) for w in k["keywords"]),
               lambda r, p: {"keywords": prompt_keywords(p, r, 2)}),
    Constraint("keywords:frequency", ("keyword", "frequency", "relation"),
               "In your response, the word {keyword} should appear {relation} {frequency} times.",
               lambda t, k: relation_holds(count_word(t, k["keyword"]), k["relation"], int(k["frequency"])),
               lambda r, p: {"keyword": prompt_keywords(p, r, 1)[0], "frequency": r.randint(1, 3), "relation": _relation(r)}),
    Constraint("keywords:forbidden_words", ("forbidden_words",), "Do not include keywords {forbidden_words} in the response.",
               lambda t, k: not any(has_word(t, w) for w in k["forbidden_words"]),
               lambda r, p: {"forbidden_words": prompt_keywords(p, r, 1)}),
    Constraint("keywords:letter_frequency", ("letter", "let_frequency", "let_relation"),
               "In your response, the letter {letter} should appear {let_relation} {let_frequency} times.",
               lambda t, k: relation_holds(_letter_count(t, k["letter"]), k["let_relation"], int(k["let_frequency"])),
               lambda r, p: {"letter": r.choice("abcdefghijklmnoprstuwy"), "let_frequency": r.randint(3, 12),
                             "let_relation": _relation(r)}),
    Constraint("language:response_language", ("language",),
               "Your ENTIRE response should be in {language} language, no other language is allowed.",
               lambda t, k: detect_language(t) == k["language"],
               lambda r, p: {"language": r.choice(sorted(LANGUAGES))}),
    Constraint("length_constraints:number_words", ("num_words", "relation"), "Answer with {relation} {num_words} words.",
               lambda t, k: relation_holds(count_words(t), k["relation"], int(k["num_words"])),
               lambda r, p: {"num_words": r.choice([50, 80, 100, 150, 200, 300]), "relation": _relation(r)}),
    Constraint("length_constraints:number_sentences", ("num_sentences", "relation"),
               "Your response should contain {relation} {num_sentences} sentences.",
               lambda t, k: relation_holds(count_sentences(t), k["relation"], int(k["num_sentences"])),
               lambda r, p: {"num_sentences": r.randint(2, 10), "relation": _relation(r)}),
    Constraint("length_constraints:number_paragraphs", ("num_paragraphs",),
               "There should be {num_paragraphs} paragraphs. Paragraphs are separated with the markdown divider: ***",
               lambda t, k: _star_paragraphs(t, int(k["num_paragraphs"])),
               lambda r, p: {"num_paragraphs": r.randint(2, 5)}),
    Constraint("length_constraints:nth_paragraph_first_word", ("num_paragraphs", "nth_paragraph", "first_word"),
               "There should be {num_paragraphs} paragraphs. Paragraphs and only paragraphs are separated with each other "
               "by two new lines. Paragraph {nth_paragraph} must start with the word {first_word}.",
               _nth_first_word, _draw_nth),
    Constraint("length_constraints:number_characters", ("num_chars", "relation"),
               "Your response should be {relation} {num_chars} characters long.",
               lambda t, k: relation_holds(len(t.strip()), k["relation"], int(k["num_chars"])),
               lambda r, p: {"num_chars": r.choice([200, 400, 600, 1000]), "relation": _relation(r)}),
    Constraint("change_case:english_lowercase", (),
               "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed.",
               lambda t, k: t == t.lower() and any(c.isalpha() for c in t) and _english(t), lambda r, p: {}),
    Constraint("change_case:english_capital", (),
               "Your entire response should be in English, and in all capital letters.",
               lambda t, k: t == t.upper() and any(c.isalpha() for c in t) and _english(t), lambda r, p: {}),
    Constraint("change_case:capital_word_frequency", ("capital_frequency", "capital_relation"),
               "In your response, words with all capital letters should appear {capital_relation} {capital_frequency} times.",
               lambda t, k: relation_holds(_capital_words(t), k["capital_relation"], int(k["capital_frequency"])),
               lambda r, p: {"capital_frequency": r.randint(1, 5), "capital_relation": _relation(r)}),
    Constraint("punctuation:no_comma", (), "In your entire response, refrain from the use of any commas.",
               lambda t, k: "," not in t, lambda r, p: {}),
)
