"""Counts and ratios over the words of a text."""

from textstats.tokenize import sentences, words


def word_frequencies(text):
    """``{word: count}`` for every word of ``text``."""
    counts = {}
    for word in words(text):
        counts[word] = counts.get(word, 0) + 1
    return counts


def top_words(text, k=3, stopwords=()):
    """The ``k`` most frequent words as ``(word, count)``; ties are broken alphabetically."""
    if k < 0:
        raise ValueError("k must be >= 0")
    counts = {w: c for w, c in word_frequencies(text).items() if w not in stopwords}
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:k]


def type_token_ratio(text):
    """Distinct words divided by all words (0.0 for a text without words)."""
    tokens = words(text)
    if not tokens:
        return 0.0
    return len(set(tokens)) / len(tokens)


def average_word_length(text):
    """Mean number of letters and digits per word, rounded to 2 decimals (0.0 without words)."""
    tokens = words(text)
    if not tokens:
        return 0.0
    letters = sum(sum(1 for char in token if char.isalnum()) for token in tokens)
    return round(letters / len(tokens), 2)


def summary(text):
    """Word, distinct-word and sentence counts, and the mean sentence length in words."""
    tokens = words(text)
    parts = sentences(text)
    mean = round(len(tokens) / len(parts), 2) if parts else 0.0
    return {"words": len(tokens), "distinct": len(set(tokens)), "sentences": len(parts),
            "words_per_sentence": mean}
