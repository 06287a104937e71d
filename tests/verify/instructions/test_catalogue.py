"""Every constraint of the IFEval-style library on responses that must pass and must fail, under
the strict check; and the loose check (first/last line dropped, asterisks removed) where it differs."""

from __future__ import annotations

import json

import pytest

from synthloom.verify.instructions import REGISTRY, check_spec

LOWER_EN = "the river runs to the sea and the fish swim in it all day long."
#: id -> (kwargs, responses that pass strictly, responses that fail strictly and loosely)
CASES = {
    "keywords:existence": ({"keywords": ["tide", "moon"]}, ["The Moon pulls the tide."], ["The moon pulls the sea.", "tides"]),
    "keywords:frequency": ({"keyword": "sea", "frequency": 2, "relation": "at least"}, ["Sea, sea and SEA."],
                           ["One sea only.", "seas and seashells"]),
    "keywords:forbidden_words": ({"forbidden_words": ["moon"]}, ["The sun shines.", "Moonlight is fine."], ["The Moon shines."]),
    "keywords:letter_frequency": ({"letter": "z", "let_frequency": 3, "let_relation": "less than"}, ["Zig zag."],
                                  ["Zig zag zoo."]),
    "language:response_language": ({"language": "fr"},
                                   ["Le chat est sur la table et il dort dans la maison avec les enfants."],
                                   ["The cat is on the table and it sleeps in the house with the children."]),
    "length_constraints:number_words": ({"num_words": 5, "relation": "less than"}, ["Four words are here."],
                                        ["one two three four five six", "don't stop me now, please, friend"]),
    "length_constraints:number_sentences": ({"num_sentences": 3, "relation": "at least"}, ["One. Two! Three?"],
                                            ["One. Two.", "Dr Smith went home. Done"]),
    "length_constraints:number_paragraphs": ({"num_paragraphs": 3}, ["a\n***\nb\n***\nc", "a *** b *** c"],
                                             ["a\n***\nb", "a\n***\n***\nb\n***\nc", "a\n\nb\n\nc"]),
    "length_constraints:nth_paragraph_first_word": (
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "finally"},
        ["Intro here.\n\nFinally, the end.", "Intro.\n\n\"Finally\" we end."],
        ["Intro.\n\nAt last, the end.", "Intro.\n\nFinally.\n\nMore."]),
    "length_constraints:number_characters": ({"num_chars": 10, "relation": "less than"}, ["short"], ["much longer text"]),
    "change_case:english_lowercase": ({}, [LOWER_EN], [LOWER_EN.capitalize(), "1234", "le chat est sur la table et il dort."]),
    "change_case:english_capital": ({}, [LOWER_EN.upper()], [LOWER_EN, "1234"]),
    "change_case:capital_word_frequency": ({"capital_frequency": 2, "capital_relation": "at least"},
                                           ["This is VERY IMPORTANT."], ["This is VERY important.", "I am A person"]),
    "punctuation:no_comma": ({}, ["No commas here."], ["Yes, one."]),
    "detectable_content:number_placeholders": ({"num_placeholders": 2}, ["Dear [name], at [address]."],
                                               ["Dear [name]."]),
    "detectable_content:postscript": ({"postscript_marker": "P.S."}, ["Body.\nP.S. more", "Body.\np. s. lower"],
                                      ["Body. No postscript.", "Body.\nPS more"]),
    "detectable_format:number_bullet_lists": ({"num_bullets": 2}, ["* a\n* b", "Intro:\n- a\n- b"],
                                              ["* a\n* b\n* c", "* a", "**bold** and *x*"]),
    "detectable_format:number_numbered_items": ({"num_items": 3}, ["1. a\n2. b\n3. c", "1) a\n2) b\n3) c"],
                                                ["1. a\n2. b", "In 2024. we met\n1. a\n2. b"]),
    "detectable_format:constrained_response": ({}, ["My answer is yes."], ["Yes.", "My answer is yes. My answer is no."]),
    "detectable_format:number_highlighted_sections": ({"num_highlights": 2}, ["*one* and *two*", "**one** and *two*"],
                                                      ["*one* only", "* * empty ones"]),
    "detectable_format:multiple_sections": ({"section_spliter": "Section", "num_sections": 2},
                                            ["Section 1\nA\nSection 2\nB"], ["Section 1\nA only", "No sections"]),
    "detectable_format:json_format": ({}, ['```json\n{"a": 1}\n```', '[1, 2]'], ["a: 1", "```json\n{a: 1}\n```"]),
    "detectable_format:title": ({}, ["<<My Title>>\nbody"], ["My Title\nbody", "<< >> body"]),
    "detectable_format:markdown_headings": ({"num_headings": 2}, ["# One\ntext\n## Two\ntext"],
                                            ["# One\ntext", "#hashtag\n#another"]),
    "detectable_format:markdown_table": ({"num_rows": 2}, ["| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |"],
                                         ["| a | b |\n|---|---|\n| 1 | 2 |", "| a | b |\n| 1 | 2 |\n| 3 | 4 |"]),
    "combination:two_responses": ({}, ["First answer.\n******\nSecond answer."],
                                  ["Only one answer.", "Same.\n******\nSame.", "a\n******\nb\n******\nc"]),
    "combination:repeat_prompt": ({"prompt_to_repeat": "Explain tides."}, ["Explain tides. Tides come from the moon."],
                                  ["Tides come from the moon. Explain tides."]),
    "startend:end_checker": ({"end_phrase": "Any other questions?"}, ["Done. Any other questions?", "Done. any other questions?  "],
                             ["Any other questions? Bye."]),
    "startend:start_phrase": ({"start_phrase": "In short,"}, ["In short, yes.", "  in short, yes."], ["Yes. In short, yes."]),
    "startend:quotation": ({}, ['"all quoted"'], ['not "quoted"', '"']),
}


def test_every_registered_constraint_has_cases_and_there_are_at_least_25():
    assert set(CASES) == set(REGISTRY) and len(REGISTRY) >= 25


@pytest.mark.parametrize("cid", sorted(CASES))
def test_checker_passes_and_fails_strictly(cid):
    kwargs, good, bad = CASES[cid]
    spec = REGISTRY[cid].spec(kwargs)
    assert json.loads(json.dumps(spec)) == spec  # the spec travels as JSON
    for text in good:
        assert check_spec(text, spec), (cid, text)
        assert check_spec(text, spec, loose=True), (cid, text)  # loose never rejects what strict accepts
    for text in bad:
        assert not check_spec(text, spec), (cid, text)


@pytest.mark.parametrize("cid, kwargs, text", [
    ("startend:end_checker", {"end_phrase": "Any other questions?"}, "Done. Any other questions?\n(I hope this helped.)"),
    ("startend:start_phrase", {"start_phrase": "In short,"}, "Sure! Here is my answer.\nIn short, yes."),
    ("punctuation:no_comma", {}, "Sure, here it is:\nNo commas in the body."),
    ("detectable_format:number_numbered_items", {"num_items": 2}, "1. a\n2. b\n3. Bonus item."),
    ("startend:quotation", {}, 'Here is the quote:\n"all quoted"'),
    ("detectable_format:json_format", {}, 'Here is the JSON:\n{"a": 1}'),
    ("change_case:english_lowercase", {}, "**Answer**\n" + LOWER_EN),
])
def test_loose_check_accepts_what_only_a_first_or_last_line_or_asterisks_break(cid, kwargs, text):
    spec = REGISTRY[cid].spec(kwargs)
    assert not check_spec(text, spec) and check_spec(text, spec, loose=True)


def test_loose_check_still_fails_a_response_that_ignores_the_instruction():
    spec = REGISTRY["punctuation:no_comma"].spec({})
    assert not check_spec("a, b\nc, d\ne, f", spec, loose=True)


def test_the_docs_page_lists_every_constraint_with_its_instruction():
    from pathlib import Path

    page = (Path(__file__).parents[3] / "docs" / "methods" / "ifeval-constraints.md").read_text(encoding="utf-8")
    for cid, c in REGISTRY.items():
        assert f"| `{cid}` |" in page, cid
        assert c.template.split("{")[0].split("\n")[0].strip() in page, cid
