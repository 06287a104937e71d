"""OSS-Instruct: a programming problem and its solution, inspired by a random snippet of real code.

Wei et al. 2023, "Magicoder: Empowering Code Generation with OSS-Instruct", ICML 2024,
arXiv:2312.02120 (ise-uiuc/magicoder). The paper takes 1–15 random consecutive lines of an
open-source document as the seed and asks the teacher (gpt-3.5-turbo-1106, greedy) to "gain
inspiration from the following random code snippet to create a high-quality programming problem",
answering in two sections, [Problem Description] (completely self-contained) and [Solution];
duplicates are dropped and the data is decontaminated. The paper does **not** execute the
solutions. synthloom adds the verification: the model also writes assert tests (a third [Tests]
section, or a follow-up request), and the recipe runs the solution against them in the sandbox
(``verify_code``) and keeps the passing ones (``keep_passing``).

Steps: ``oss_instruct_seed`` (a random 1–15 line window of a code document → ``seed``) and
``oss_instruct`` (seed → ``problem``, ``solution``, ``code``, ``tests``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from ...pipeline.model_step import chat
from ...pipeline.step import MapStep, Rejected
from ...records import ID
from .base import CodeMethodStep
from .extract import (
    defined_functions,
    extract_asserts,
    extract_code,
    extract_sections,
    split_solution_and_asserts,
)

CITATION = ("Wei et al. 2023, Magicoder: Empowering Code Generation with OSS-Instruct, ICML 2024, "
            "arXiv:2312.02120")
SECTIONS = ["Problem Description", "Solution", "Tests"]
TESTS_FROM = ("inline", "followup")


class OssInstructSeed(MapStep):
    """Cuts the seed out of a code document: ``min_lines``–``max_lines`` (paper: 1–15) consecutive
    lines at a random place, chosen reproducibly from the record id; windows of blank lines only
    are avoided. Reads ``code_column``, writes ``seed_column``."""

    type_name = "oss_instruct_seed"

    def __init__(self, name: str, *, code_column: str = "content", seed_column: str = "seed", min_lines: int = 1,
                 max_lines: int = 15, inputs: Iterable[str] = ()) -> None:
        if not 1 <= int(min_lines) <= int(max_lines):
            raise ValueError(f"oss_instruct_seed {name!r}: need 1 <= min_lines <= max_lines, got {min_lines}, "
                             f"{max_lines}")
        super().__init__(name, reads=[code_column], writes=[seed_column], inputs=inputs, citations=[CITATION])
        self.code_column, self.seed_column = code_column, seed_column
        self.min_lines, self.max_lines = int(min_lines), int(max_lines)

    def map(self, record: dict[str, Any]) -> dict[str, Any]:
        doc = record.get(self.code_column)
        if not isinstance(doc, str) or not doc.strip():
            raise ValueError(f"oss_instruct_seed {self.name!r}: column {self.code_column!r} is empty or not text")
        return {**record, self.seed_column: seed_window(doc, str(record.get(ID, "")), self.min_lines, self.max_lines)}


def seed_window(doc: str, key: str, min_lines: int = 1, max_lines: int = 15) -> str:
    """A window of ``min_lines``–``max_lines`` consecutive lines of ``doc`` chosen by ``key``."""
    lines = doc.splitlines()
    rng = random.Random(key)
    for _ in range(20):
        size = min(len(lines), rng.randint(min_lines, max_lines))
        start = rng.randint(0, len(lines) - size)
        window = "\n".join(lines[start:start + size])
        if window.strip():
            return window
    return doc.strip()


class OssInstruct(CodeMethodStep):
    """The OSS-Instruct generation (Magicoder's prompt) from a seed snippet, plus tests to verify
    it by: ``tests_from: inline`` asks for a [Tests] section in the same reply, ``followup`` asks
    a second request for asserts given the problem and solution. Writes ``problem``, ``solution``
    (the section as written), ``code`` (the Python extracted from it), ``tests`` (assert
    statements) and ``entry_point`` (the first function the code defines, or None). Replies
    without a problem, without code or without any assert are rejected with the reason.
    Follow with ``verify_code`` (``code_column: code``, ``tests_column: tests``) and
    ``keep_passing``. The paper decodes greedily (``temperature: 0``)."""

    type_name = "oss_instruct"
    view_names = frozenset({"seed", "lang", "with_tests", "n_tests", "problem", "code"})

    def __init__(self, name: str, *, seed_column: str = "seed", lang_column: str | None = "lang",
                 default_lang: str = "python", tests_from: str = "inline", n_tests: int = 5,
                 template: str | None = None, system: str | None = None, tests_template: str | None = None,
                 temperature: float = 0.0, max_tokens: int = 1024, citations: Iterable[str] = (),
                 **kwargs: Any) -> None:
        if tests_from not in TESTS_FROM:
            raise ValueError(f"oss_instruct {name!r}: tests_from must be 'inline' (a [Tests] section) or "
                             f"'followup' (a second request), not {tests_from!r}")
        if int(n_tests) < 1:
            raise ValueError(f"oss_instruct {name!r}: n_tests must be >= 1, not {n_tests}")
        super().__init__(name, reads=[seed_column], writes=["problem", "solution", "code", "tests", "entry_point"],
                         temperature=temperature, max_tokens=max_tokens, citations=[CITATION, *citations], **kwargs)
        self.user_template = self.template(template or None, "oss_instruct.jinja")
        self.system_template = self.template(system, "oss_instruct_system.jinja")
        self.tests_template = self.template(tests_template or None, "oss_instruct_tests.jinja")
        self.seed_column, self.lang_column, self.default_lang = seed_column, lang_column, default_lang
        self.tests_from, self.n_tests = tests_from, int(n_tests)

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        lang = record.get(self.lang_column) if self.lang_column else None
        return {**self.base_columns(record), "seed": record.get(self.seed_column), "lang": lang or self.default_lang,
                "with_tests": self.tests_from == "inline", "n_tests": self.n_tests}

    async def run(self, record: dict[str, Any]):
        seed = record.get(self.seed_column)
        if not isinstance(seed, str) or not seed.strip():
            raise ValueError(f"oss_instruct {self.name!r}: column {self.seed_column!r} is empty or not text")
        view = self.view(record)
        system = self.render(self.system_template, view).strip() or None
        [reply], call_entry = await self.texts(record, chat(self.render(self.user_template, view), system))
        lineage = [call_entry]
        parsed = parse_reply(reply)
        if isinstance(parsed, Rejected):
            return parsed, lineage
        problem, solution, code, tests = parsed
        if self.tests_from == "followup" or not tests:
            if self.tests_from == "inline":
                return Rejected("no assert tests in the reply (no [Tests] section, no asserts after the solution)"), \
                    lineage
            prompt = self.render(self.tests_template, {**view, "problem": problem, "code": code})
            [test_reply], more = await self.texts(record, prompt, salt="tests")
            lineage.append(more)
            tests = tests or extract_asserts(test_reply, limit=self.n_tests * 2)
            if not tests:
                return Rejected("no assert tests in the follow-up reply"), lineage
        functions = defined_functions(code)
        row = {**self.base_columns(record), "problem": problem, "solution": solution, "code": code, "tests": tests,
               "entry_point": functions[0] if functions else None}
        return row, lineage


def parse_reply(reply: str) -> tuple[str, str, str, list[str]] | Rejected:
    """``(problem, solution section, code, tests)`` from an OSS-Instruct reply, or the reason it
    is unusable. Asserts the model appended to the solution code are moved to the tests."""
    sections = extract_sections(reply, SECTIONS)
    problem = (sections.get("Problem Description") or "").strip()
    if not problem:
        return Rejected("no [Problem Description] section in the reply")
    solution = (sections.get("Solution") or "").strip()
    if not solution:
        return Rejected("no [Solution] section in the reply")
    code = extract_code(solution)
    if not code:
        return Rejected("no Python code in the [Solution] section")
    code, inline_asserts = split_solution_and_asserts(code)
    if not code.strip():
        return Rejected("the [Solution] code holds only asserts")
    tests = extract_asserts(sections.get("Tests")) if sections.get("Tests") else []
    seen = {" ".join(t.split()) for t in tests}
    tests += [t for t in inline_asserts if " ".join(t.split()) not in seen]
    return problem, solution, code, tests
