"""Readability estimates: syllables and the Flesch reading-ease score."""

from textstats.tokenize import sentences, words

VOWELS = "aeiouy"


def count_syllables(word):
    """A heuristic syllable count: groups of vowels, minus a silent final e, at least 1."""
    word = word.lower().strip(".,;:!?'\"")
    if not word:
        return 0
    count = 0
    previous_vowel = False
    for char in word:
        is_vowel = char in VOWELS
        if is_vowel and not previous_vowel:
            count += 1
        previous_vowel = is_vowel
    if word.endswith("e") and not word.endswith("le") and count > 1:
        count -= 1
    return max(count, 1)


def flesch_reading_ease(text):
    """206.835 - 1.015 * words/sentences - 84.6 * syllables/words, rounded to 1 decimal."""
    tokens = words(text)
    parts = sentences(text)
    if not tokens or not parts:
        raise ValueError("text has no words")
    syllables = sum(count_syllables(token) for token in tokens)
    score = 206.835 - 1.015 * (len(tokens) / len(parts)) - 84.6 * (syllables / len(tokens))
    return round(score, 1)
