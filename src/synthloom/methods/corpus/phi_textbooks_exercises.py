"""phi-style code exercises: a function stub (signature and docstring) for a topic, tests for it, and the
model's completion, checked in the sandbox.

Gunasekar et al. (2023), *Textbooks Are All You Need*, arXiv:2306.11644, §2.2: phi-1's *CodeExercises*
(~180M tokens, GPT-3.5) are Python exercises, "each a docstring of a function that needs to be
completed", with the model's solution; diversity came from constraining the function names. The
paper does not execute the solutions. Here, as a person preparing such data would, each exercise
comes with tests and only exercises whose solution passes them in the sandbox are kept:

* :class:`PhiExercise` (``phi_exercise``): one JSON-schema-constrained call gives ``signature``,
  ``docstring`` (with doctest examples) and ``tests`` (assert statements); the step writes the stub
  (``exercise``), its ``entry_point`` and ``tests``: the model's asserts that call the function and the
  doctest examples turned into asserts (``tests_from``);
* :class:`PhiSolution` (``phi_solution``): the model completes the stub (the tests are not shown); the
  whole function, or a body that completes the stub, becomes ``solution``.

The recipe then runs ``verify_code`` (the sandbox) and ``keep_passing``: a failing solution is rejected
with the failing test and its error as the reason.
"""

from __future__ import annotations

import ast
import doctest
import textwrap
from typing import Any

from ...pipeline.model_step import ModelStep, RowError, chat, reply_text
from ...pipeline.step import Rejected
from ...records import adopt_rows
from ..code.extract import code_blocks, defined_functions, extract_asserts, extract_code, parses, split_solution_and_asserts
from .phi_textbooks import CITATION

TESTS_FROM = ("both", "model", "doctest")


def exercise_schema() -> dict[str, Any]:
    """The exercise reply: a function header, its docstring, and one to five assert statements."""
    return {"type": "object",
            "properties": {"signature": {"type": "string", "maxLength": 200},
                           "docstring": {"type": "string", "maxLength": 800},
                           "tests": {"type": "array", "items": {"type": "string", "maxLength": 200},
                                     "minItems": 1, "maxItems": 5}},
            "required": ["signature", "docstring", "tests"], "additionalProperties": False}


def function_header(signature: str) -> tuple[str, str] | None:
    """``(header line ending in ':', function name)`` of a signature such as ``def f(x: int) -> int``, or None."""
    line = " ".join(signature.strip().split())
    if not line.startswith("def "):
        return None
    header = line.rstrip(":").rstrip() + ":"
    try:
        tree = ast.parse(f"{header}\n    pass\n")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    node = tree.body[0] if len(tree.body) == 1 else None
    return (header, node.name) if isinstance(node, ast.FunctionDef) else None


def stub(header: str, docstring: str) -> str:
    """The exercise as the student sees it: the header and the indented docstring."""
    body = textwrap.indent(textwrap.dedent(docstring).strip(), "    ")
    quote = 'r"""' if "\\" in docstring else '"""'  # a raw docstring keeps the backslashes of doctest examples as written
    return f'{header}\n    {quote}\n{body}\n    """\n'


def doctest_asserts(docstring: str, name: str) -> list[str]:
    """The doctest examples of ``docstring`` as assert tests: ``>>> f(2)`` / ``4`` becomes ``assert (f(2)) == (4)``,
    after the example statements before it (``>>> x = [1]``). Examples whose expected output is not a
    Python value (printed text, a traceback) are left out; only tests that call ``name`` are kept."""
    try:
        examples = doctest.DocTestParser().get_examples(docstring)
    except ValueError:
        return []
    setup: list[str] = []
    tests: list[str] = []
    for ex in examples:
        source, want = ex.source.strip(), ex.want.strip()
        if not want:
            if parses(source):
                setup.append(source)
            continue
        try:
            ast.parse(source, mode="eval")
            ast.parse(want, mode="eval")
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
        if name in source:
            tests.append("\n".join([*setup, f"assert ({source}) == ({want})"]))
    return tests


class PhiExercise(ModelStep):
    """Asks for one code exercise on the row's ``subtopic`` (within ``topic``) under a JSON schema and
    writes ``exercise`` (signature and docstring), ``entry_point`` and ``tests`` (assert statements: the
    model's that call the function and/or the docstring's doctest examples, by ``tests_from``: ``both``,
    ``model`` or ``doctest``). A header that is not a Python function, a docstring that would end the
    stub early, or an exercise left without a test is rejected."""

    type_name = "phi_exercise"
    default_sampling = {"temperature": 0.8, "max_tokens": 512}

    def __init__(self, name: str, *, tests_from: str = "both", **kwargs: Any) -> None:
        if tests_from not in TESTS_FROM:
            raise ValueError(f"phi_exercise {name!r}: tests_from must be one of {', '.join(TESTS_FROM)}, not {tests_from!r}")
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, writes=["exercise", "entry_point", "tests"], **kwargs)
        self.tests_from = tests_from
        self.prompt = self.load_template("phi_exercise.jinja")
        self.read_columns(self.prompt)
        self.schema = exercise_schema()

    def tests(self, value: dict[str, Any], name: str) -> list[str]:
        """The exercise's assert tests, model-written first, without duplicates."""
        found: list[str] = []
        if self.tests_from in ("both", "model"):
            for item in value["tests"]:
                found += extract_asserts(item, entry_point=name)
        if self.tests_from in ("both", "doctest"):
            found += doctest_asserts(value["docstring"], name)
        return list(dict.fromkeys(found))

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        response, lineage = await self.call(record, chat(self.render(self.prompt, record)), json_schema=self.schema)
        value = response.parsed
        head = function_header(str(value["signature"]))
        if head is None:
            return Rejected(f"the exercise's signature is not a Python function header: {str(value['signature'])[:80]!r}")
        header, name = head
        docstring = str(value["docstring"]).strip().strip('"').strip()
        if not docstring or '"""' in docstring:
            return Rejected("the exercise's docstring is empty or cannot be written between triple quotes")
        tests = self.tests(value, name)
        if not tests:
            return Rejected(f"the exercise has no usable test (an assert or doctest example that calls {name})")
        return adopt_rows(record, {**record, "exercise": stub(header, docstring), "entry_point": name, "tests": tests},
                          self.name, [lineage])


def completed_solution(text: str, exercise: str, name: str) -> str | None:
    """The solution in a reply: the code defining ``name`` (its top-level asserts removed), or a body
    that completes the stub ``exercise``; None when the reply has neither."""
    code = extract_code(text, entry_point=name)
    if code and name in defined_functions(code):
        return split_solution_and_asserts(code)[0].strip() + "\n"
    blocks = [b.code for b in code_blocks(text) if b.is_python and b.code.strip()]
    body = textwrap.dedent(blocks[0] if blocks else text)
    if defined_functions(body):  # another function, not the stub's body
        return None
    candidate = exercise + textwrap.indent(body.strip("\n"), "    ") + "\n"
    return candidate if parses(candidate) and name in defined_functions(candidate) else None


class PhiSolution(ModelStep):
    """Asks the model to complete the function stub in ``exercise`` (the tests stay hidden) and writes the
    complete function to ``solution``. A reply cut off by ``max_tokens`` or refused is rejected; one that
    neither defines ``entry_point`` nor completes the stub is an error row keeping the reply."""

    type_name = "phi_solution"
    default_sampling = {"temperature": 0.2, "max_tokens": 512}

    def __init__(self, name: str, **kwargs: Any) -> None:
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=["exercise", "entry_point"], writes=["solution"], **kwargs)
        self.prompt = self.load_template("phi_solution.jinja")

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        exercise, name = str(record.get("exercise") or ""), str(record.get("entry_point") or "")
        if not exercise.strip() or not name:
            return Rejected("the row has no exercise (columns 'exercise' and 'entry_point')")
        response, lineage = await self.call(record, chat(self.render(self.prompt, {"exercise": exercise.rstrip()})))
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the solution hit max_tokens (finish_reason=length)")
        text = reply_text(response, "solution")
        if isinstance(text, Rejected):
            return text
        solution = completed_solution(text, exercise, name)
        if solution is None:
            raise RowError(f"the reply neither defines {name}() nor completes its stub", raw_text=text)
        return adopt_rows(record, {**record, "solution": solution}, self.name, [lineage])
