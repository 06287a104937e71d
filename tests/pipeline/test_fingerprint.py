"""Fingerprints of user code: editing a prompt/parse function or a custom step's method changes the
fingerprint (so a rerun recomputes); the same code gives the same fingerprint."""

from __future__ import annotations

from synthloom import LLMStep, MapStep
from synthloom.pipeline.fingerprint import class_code_fingerprint, code_fingerprint


def make(suffix: str):
    return lambda r: f"Answer {r['q']}{suffix}"


def test_same_code_same_fingerprint_and_closure_values_count():
    assert code_fingerprint(make("!")) == code_fingerprint(make("!"))
    assert code_fingerprint(make("!")) != code_fingerprint(make("?"))


def test_a_changed_body_or_constant_changes_the_fingerprint():
    def a(r):
        return r["q"] + "x"

    def b(r):
        return r["q"] + "y"

    def c(r):
        return r["q"].upper() + "x"

    assert len({code_fingerprint(f) for f in (a, b, c)}) == 3


def test_a_user_step_subclass_is_fingerprinted_but_synthloom_classes_are_not():
    class One(MapStep):
        def map(self, record):
            return {**record, "v": 1}

    class Two(MapStep):
        def map(self, record):
            return {**record, "v": 2}

    assert class_code_fingerprint(One) != class_code_fingerprint(Two)
    assert class_code_fingerprint(MapStep) == class_code_fingerprint(LLMStep)  # nothing user-written


def test_an_llm_step_with_another_parse_has_another_description():
    s1 = LLMStep("s", prompt=make("!"), parse=lambda r, resp: {**r, "x": resp.text})
    s2 = LLMStep("s", prompt=make("!"), parse=lambda r, resp: {**r, "x": resp.text.upper()})
    s3 = LLMStep("s", prompt=make("!"), parse=lambda r, resp: {**r, "x": resp.text})
    assert s1.describe() != s2.describe()
    assert s1.describe() == s3.describe()
