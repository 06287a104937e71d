"""Statistics about English text: words, sentences, frequencies and readability."""

from textstats.metrics import average_word_length, summary, top_words, type_token_ratio, word_frequencies
from textstats.readability import count_syllables, flesch_reading_ease
from textstats.tokenize import sentences, words

__all__ = ["average_word_length", "count_syllables", "flesch_reading_ease", "sentences", "summary", "top_words",
           "type_token_ratio", "word_frequencies", "words"]
