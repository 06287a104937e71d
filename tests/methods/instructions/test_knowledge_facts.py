"""The programmatic faithfulness check of knowledge-infused QA: answers that must pass and answers that must
fail against the bundled fact table."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthloom.methods.instructions.knowledge_facts import FactTable, check_answer, check_question, load_facts, mentions

FACTS = Path(__file__).parents[3] / "src/synthloom/recipes/builtin/knowledge_facts.jsonl"


@pytest.fixture(scope="module")
def table() -> FactTable:
    return FactTable(load_facts(FACTS))


def test_the_bundled_table_has_a_few_hundred_distinct_triples():
    rows = load_facts(FACTS)
    assert 200 <= len(rows) <= 400
    assert len({(r["subject"], r["relation"]) for r in rows}) == len(rows)  # one object per subject and relation
    assert all(r["object"] in r["fact"] for r in rows)  # the sentence states the object as written


def test_mentions_is_word_bounded_accent_and_case_blind_but_case_exact_for_short_codes():
    assert mentions("The capital is brasilia.", "Brasília") and mentions("It is BOGOTA", "Bogotá")
    assert not mentions("Its atomic number is 126.", "26") and mentions("number 26.", "26")
    assert mentions("Its symbol is Fe.", "Fe") and not mentions("its symbol is fe", "Fe")
    assert not mentions("Parisian cafés", "Paris") and mentions("New  Delhi is", "New Delhi")


def test_one_to_one_relations_have_rivals_and_shared_ones_do_not(table):
    assert {"capital", "chemical symbol", "atomic number"} <= set(table.one_to_one)
    assert "continent" not in table.one_to_one and "element category" not in table.one_to_one
    rivals = table.rivals("capital", "Australia")
    assert "Ottawa" in rivals and "Canberra" not in rivals
    assert table.rivals("atomic number", "Iron") == []  # numbers turn up in ordinary text: not looked for
    assert table.rivals("continent", "France") == []


@pytest.mark.parametrize("answer", [
    "The capital of Australia is Canberra.",
    "canberra",
    "Canberra, chosen as a compromise between Sydney and Melbourne.",  # not rivals: no row has them as capitals
])
def test_faithful_answers_pass(table, answer):
    assert check_answer(answer, "Canberra", table.rivals("capital", "Australia")) is None


@pytest.mark.parametrize(("answer", "why"), [
    ("The capital of Australia is Sydney.", "unsupported"),
    ("", "unsupported: empty answer"),
    ("It is Canberra, or maybe Ottawa.", "contradicted: the answer also names 'Ottawa'"),
    ("Canberra-ish, like Wellington.", "contradicted"),
])
def test_unsupported_and_contradicting_answers_fail(table, answer, why):
    problem = check_answer(answer, "Canberra", table.rivals("capital", "Australia"))
    assert problem is not None and problem.startswith(why)


def test_questions_must_name_the_subject_and_not_give_the_answer_away():
    assert check_question("What is the capital of Australia?", "Australia", "Canberra") is None
    assert "does not name" in check_question("What is the capital of that country?", "Australia", "Canberra")
    assert "gives the answer away" in check_question("Is Canberra the capital of Australia?", "Australia", "Canberra")
    assert check_question("", "Australia", "Canberra") == "empty question"


def test_a_table_without_the_triple_columns_is_refused_with_the_row(tmp_path):
    bad = tmp_path / "facts.jsonl"
    bad.write_text('{"subject": "a", "relation": "r", "object": "o"}\n{"subject": "b", "relation": "r"}\n')
    with pytest.raises(ValueError, match="facts.jsonl row 2: no object"):
        load_facts(bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_facts(tmp_path / "missing.jsonl")
