from textstats import average_word_length, summary, top_words, type_token_ratio, word_frequencies


def test_word_frequencies():
    assert word_frequencies("the cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}


def test_top_words_ties_alphabetical():
    text = "b a c b a d"
    assert top_words(text, 2) == [("a", 2), ("b", 2)]
    assert top_words(text, 3) == [("a", 2), ("b", 2), ("c", 1)]
    assert top_words(text, 0) == []


def test_top_words_stopwords():
    assert top_words("the cat the dog the cat", 1, stopwords={"the"}) == [("cat", 2)]


def test_top_words_negative_k():
    try:
        top_words("a b", -1)
    except ValueError:
        pass
    else:
        raise AssertionError("expected a ValueError")


def test_type_token_ratio():
    assert type_token_ratio("a a b b") == 0.5
    assert type_token_ratio("one two three") == 1.0
    assert type_token_ratio("") == 0.0


def test_average_word_length():
    assert average_word_length("ab abcd") == 3.0
    assert average_word_length("it's") == 3.0
    assert average_word_length("") == 0.0


def test_summary():
    result = summary("The cat sat. The cat ran away!")
    assert result == {"words": 7, "distinct": 5, "sentences": 2, "words_per_sentence": 3.5}
