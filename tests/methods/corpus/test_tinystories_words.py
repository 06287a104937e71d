"""The TinyStories word check: inflected forms count as using a word, whole words only, reject or tag."""

from __future__ import annotations

import pytest

from synthloom.methods.corpus.tinystories_words import TinyStoriesWords, missing_words, word_forms
from synthloom.pipeline.step import Rejected
from synthloom.records import ID
from synthloom.testing.scripted import run_step


@pytest.mark.parametrize("word,used", [("jump", "jumped"), ("run", "ran"), ("stop", "stopping"), ("make", "making"),
                                       ("cry", "cried"), ("mouse", "mice"), ("box", "boxes"), ("leaf", "leaves"),
                                       ("big", "biggest"), ("happy", "happily"), ("gentle", "gently"), ("good", "better"),
                                       ("fisherman", "fishermen"), ("tie", "tying"), ("bunny", "bunnies")])
def test_inflected_forms_count_as_using_the_word(word, used):
    assert used in word_forms(word)
    assert missing_words(f"One day, {used.capitalize()}!", [("w", word)]) == []


def test_the_word_check_rejects_or_tags_stories_that_miss_a_word():
    row = {ID: "r", "verb": "swim", "noun": "dog", "adjective": "shiny",
           "story": "The dog's fur was shiny. He swam in the lake and was happy."}
    assert run_step(TinyStoriesWords("w"), None, [row]) == [[{**row, "missing_words": []}]]
    missed = {**row, "story": "The cat swam in the lake. It was a sunny day."}
    (out,) = run_step(TinyStoriesWords("w"), None, [missed])
    assert isinstance(out, Rejected) and out.reason == "the story does not use noun 'dog', adjective 'shiny'"
    assert out.score == pytest.approx(1 / 3)
    ((tagged,),) = run_step(TinyStoriesWords("w", on_missing="tag"), None, [missed])
    assert tagged["missing_words"] == ["noun 'dog'", "adjective 'shiny'"]
    assert missing_words("A dogma of shininess.", [("noun", "dog")]) == ["noun 'dog'"]  # whole words only
    with pytest.raises(ValueError, match="on_missing must be"):
        TinyStoriesWords("w", on_missing="drop")
