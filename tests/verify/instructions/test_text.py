"""The text measures under the checkers: words, sentences, paragraphs, IFEval's loose variants."""

from __future__ import annotations

from synthloom.verify.instructions.text import (
    blank_line_paragraphs,
    count_sentences,
    count_words,
    loose_variants,
    star_paragraphs,
    strip_code_fence,
)


def test_words_sentences_and_paragraphs():
    assert count_words("Don't stop - it's 2024, friend!") == 5
    assert count_sentences('One. "Two!" Three? Four') == 4 and count_sentences("") == 0
    assert star_paragraphs("a\n***\nb * * * c") == ["a", "b", "c"] and star_paragraphs("a\n***\n***\nb") is None
    assert star_paragraphs("***\na\n***\nb\n***") == ["a", "b"]
    assert blank_line_paragraphs("a\n\n  \nb\n\n\n") == ["a", "b"]
    assert strip_code_fence('```json\n{"a": 1}\n```') == '{"a": 1}'


def test_loose_variants_drop_the_first_and_last_lines_and_asterisks():
    variants = loose_variants("Sure:\n**body**\nBye")
    assert variants[0] == "Sure:\n**body**\nBye"
    assert {"**body**\nBye", "Sure:\n**body**", "**body**", "Sure:\nbody\nBye", "body"} <= set(variants)
    assert len(variants) == len(set(variants)) <= 8 and all(v.strip() for v in variants)
    assert loose_variants("one line") == ["one line"]
