from textstats import sentences, words


def test_words_lowercase_and_punctuation():
    assert words("Hello, World! It's 2024.") == ["hello", "world", "it's", "2024"]


def test_words_inner_hyphen_kept_trailing_dropped():
    assert words("A well-known fact -- really-") == ["a", "well-known", "fact", "really"]


def test_words_empty():
    assert words("") == []
    assert words("... !!") == []


def test_sentences_basic():
    text = "One two. Three four! Five six? Seven"
    assert sentences(text) == ["One two.", "Three four!", "Five six?", "Seven"]


def test_sentences_decimal_points_and_abbreviations():
    text = "Dr. Smith paid 3.50 dollars. Then he left."
    assert sentences(text) == ["Dr. Smith paid 3.50 dollars.", "Then he left."]
