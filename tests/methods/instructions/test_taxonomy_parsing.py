"""Parsers shared by the taxonomy-, attribute- and document-driven methods, on hand-written replies."""

from __future__ import annotations

from synthloom.methods.instructions.taxonomy_parsing import (
    clean_item,
    first_paragraph,
    parse_list,
    parse_score,
    parse_tagged,
    score_explanation,
    strip_label,
)
from synthloom.pipeline.model_step import is_refusal

SCORE_TAGS = ("[Start of Score]", "[End of Score]")


def test_numbered_list_with_preamble_continuations_and_closing_junk():
    text = ("Sure! Here are 4 questions:\n\n1. What is x?\n2) Why does y\n   happen so often?\n(3) **How** to z?\n"
            "4. What is X?\n\nI hope these help! Let me know.")
    assert parse_list(text) == ["What is x?", "Why does y happen so often?", "How to z?"]


def test_bullets_labels_quotes_and_question_numbering():
    text = '- "Describe a sunset."\n* Question: Name three rivers.\n• Explain tides.'
    assert parse_list(text, labels=("question",)) == ["Describe a sunset.", "Name three rivers.", "Explain tides."]
    assert parse_list("Question 1: Alpha?\nQuestion 2: Beta?\nQ3. Gamma?") == ["Alpha?", "Beta?", "Gamma?"]


def test_truncated_list_drops_the_partial_last_item_and_max_items_caps():
    text = "1. First task.\n2. Second task.\n3. Third ta"
    assert parse_list(text, truncated=True) == ["First task.", "Second task."]
    assert parse_list(text) == ["First task.", "Second task.", "Third ta"]
    assert parse_list(text, max_items=1) == ["First task."]


def test_unnumbered_replies_fall_back_to_lines_without_the_preamble():
    assert parse_list("Here are some topics:\nGardening\nCooking\n") == ["Gardening", "Cooking"]
    assert parse_list("Just one line.") == ["Just one line."]
    assert parse_list("Gardening\nCooking", fallback_lines=False) == []
    assert parse_list("") == [] and parse_list("\n\n  \n") == []


def test_times_and_years_are_not_list_numbers():
    assert parse_list("Meet at 10:30 today.\n2024: a year") == ["Meet at 10:30 today.", "2024: a year"]


def test_tagged_blocks_with_missing_end_tags_and_truncation():
    text = "junk [Start of Question]\nA?\n[End of Question]\n[start of question] B? [Start of Question] C"
    tags = ("[Start of Question]", "[End of Question]")
    assert parse_tagged(text, *tags) == ["A?", "B?", "C"]
    assert parse_tagged(text, *tags, truncated=True) == ["A?", "B?"]
    assert parse_tagged("no tags here", *tags) == []
    assert parse_tagged("[Start of Question][End of Question]", *tags) == []


def test_scores_from_labels_tags_lone_numbers_and_markdown():
    assert parse_score("The answer is thorough.\nScore: 5", range(1, 6)) == 5
    assert parse_score("Reasoning... Score: 2. Upon reflection, Score: 4", range(1, 6)) == 4  # the last one counts
    assert parse_score("**Score:** 3", range(1, 6)) == 3
    assert parse_score("Rating: 4/5", range(1, 6)) == 4
    assert parse_score("I would rate it 2 out of 5", range(1, 6)) == 2
    assert parse_score("Good answer.\n\n5", range(1, 6)) == 5
    assert parse_score("[Start of Evaluation] fine [End of Evaluation]\n[Start of Score]\n2\n[End of Score]",
                       range(1, 4), tags=SCORE_TAGS) == 2
    assert parse_score("[Start of Score] Score: 1 [End of Score]", (0, 1), tags=SCORE_TAGS) == 1


def test_bad_scores_give_none():
    assert parse_score('Please write "Score: <rating>"', range(1, 6)) is None  # placeholder echoed
    assert parse_score("Score: 7", range(1, 6)) is None  # off the scale
    assert parse_score("Score: 4.5", range(1, 6)) is None  # not an integer grade
    assert parse_score("Score: 3/10", range(1, 6)) is None  # another scale
    assert parse_score("1. It is perfect.\n2. It is clear.", range(1, 6)) is None  # a list is not a score
    assert parse_score("", range(1, 6)) is None
    assert parse_score("[Start of Score] great [End of Score]", range(1, 4), tags=SCORE_TAGS) is None


def test_score_explanations():
    assert score_explanation("Clear and correct.\nScore: 5") == "Clear and correct."
    tags = ("[Start of Evaluation]", "[End of Evaluation]")
    assert score_explanation("[Start of Evaluation] ok [End of Evaluation] [Start of Score] 1", tags=tags) == "ok"
    assert score_explanation("no score at all") == "no score at all"


def test_refusals_labels_and_paragraphs():
    assert is_refusal("I'm sorry, but I can't do that.") and is_refusal("As an AI language model, I ...")
    assert is_refusal('"I cannot write that."') and not is_refusal("Sorting a list in Python is easy.")
    assert is_refusal("**I apologize**, but no.") and not is_refusal("Can't-miss tips: I cannot stress this enough")
    assert strip_label("Instruction: Do x.", ("instruction",)) == "Do x."
    assert strip_label("**Question:** Why?", ("question",)) == "Why?"
    assert strip_label("Note: keep this", ("instruction",)) == "Note: keep this"
    assert first_paragraph("\n\nOne\nline two\n\nThree") == "One\nline two"
    assert clean_item(' **"Hello"** ') == "Hello"
