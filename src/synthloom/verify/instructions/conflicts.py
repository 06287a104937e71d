"""Which constraints cannot be asked of one response (IFEval keeps such a table in its registry;
this one is synthloom's, reasoned per pair): drawing never combines them."""

from __future__ import annotations

from .constraint import add_conflicts

LOWER, CAPITAL, CAPS_FREQ = "change_case:english_lowercase", "change_case:english_capital", "change_case:capital_word_frequency"
LANGUAGE, JSON, TWO, REPEAT = ("language:response_language", "detectable_format:json_format", "combination:two_responses",
                               "combination:repeat_prompt")
END, START, QUOTE, PS = "startend:end_checker", "startend:start_phrase", "startend:quotation", "detectable_content:postscript"
ANSWER = "detectable_format:constrained_response"
STAR_PARAGRAPHS, NTH = "length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word"
WORDS, SENTENCES, CHARS = ("length_constraints:number_words", "length_constraints:number_sentences",
                           "length_constraints:number_characters")
SHAPES = ("detectable_format:title", "detectable_format:number_bullet_lists", "detectable_format:number_numbered_items",
          "detectable_format:number_highlighted_sections", "detectable_format:multiple_sections",
          "detectable_format:markdown_headings", "detectable_format:markdown_table")

# one case for the whole text; capitals counted or forbidden; the fixed answers have capitals
add_conflicts(LOWER, CAPITAL, CAPS_FREQ, LANGUAGE, ANSWER)
add_conflicts(CAPITAL, CAPS_FREQ, LANGUAGE, ANSWER)
add_conflicts(CAPS_FREQ, LANGUAGE)
# another language: English keywords, letters, phrases and fixed answers cannot be in it
add_conflicts(LANGUAGE, "keywords:existence", "keywords:frequency", "keywords:letter_frequency", ANSWER, REPEAT, END, START, PS)
# a keyword both asked for and forbidden
add_conflicts("keywords:forbidden_words", "keywords:existence", "keywords:frequency")
# JSON is the whole text: no other shape, wrapper or phrase around it; several keys need commas
add_conflicts(JSON, *SHAPES, STAR_PARAGRAPHS, NTH, PS, QUOTE, END, START, TWO, REPEAT, ANSWER, "punctuation:no_comma")
# the whole text has one start and one end
add_conflicts(QUOTE, START, END, REPEAT, TWO, PS)
add_conflicts(START, REPEAT, TWO)
add_conflicts(END, PS, TWO, ANSWER)
add_conflicts(REPEAT, TWO, ANSWER, NTH)
# two responses: counts over the whole text become ambiguous
add_conflicts(TWO, STAR_PARAGRAPHS, NTH, ANSWER, "detectable_format:number_bullet_lists",
              "detectable_format:number_numbered_items", "detectable_format:multiple_sections")
# two ways of separating paragraphs
add_conflicts(STAR_PARAGRAPHS, NTH)
# a fixed one-line answer has no room for structure
add_conflicts(ANSWER, STAR_PARAGRAPHS, NTH, *SHAPES[1:])
# at most one length measure (at least 300 words in less than 400 characters cannot be done)
add_conflicts(WORDS, SENTENCES, CHARS)
add_conflicts(SENTENCES, CHARS)
