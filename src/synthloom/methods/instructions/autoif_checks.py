"""AutoIF's execution feedback (Dong et al. 2024, "Self-play with Execution Feedback: Improving
Instruction-Following Capabilities of Large Language Models", arXiv:2406.13542): reading the
verification functions and test cases a model wrote, running them in the sandbox, and the
cross-validation that keeps a verifier only when its code compiles, runs within the limits and
classifies the test cases right.

Every verifier runs only in the sandbox (:mod:`synthloom.sandbox`), one *harness run* per
(verifier, response): the model's code is the solution, and the trusted harness calls
``evaluate(response)`` with the response as a literal and compares the value with the expected
``True``/``False`` (a value that is not a bool never matches). Code that loops, eats memory, writes
files or reaches for the network ends at the sandbox's limits and counts as a wrong answer.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..code.extract import code_blocks

ENTRY = "evaluate"
#: the schema a verifier reply is asked in (where the backend can enforce one); no ``maxLength``:
#: llama.cpp turns one into nested rules that its grammar parser refuses past a few hundred and
#: that slow constrained sampling down (``max_tokens`` bounds the reply)
VERIFIER_SCHEMA = {
    "type": "object",
    "properties": {
        "function": {"type": "string"},
        "cases": {"type": "array", "minItems": 1, "maxItems": 6, "items": {
            "type": "object", "properties": {"response": {"type": "string"},
                                             "expected": {"type": "boolean"}},
            "required": ["response", "expected"]}},
    },
    "required": ["function", "cases"],
}


def parse_verifier_reply(text: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    """The function source and test cases (``[{"response", "expected"}]``) of one reply: a JSON
    object ``{"function", "cases"}``, or a fenced Python block with ``def evaluate`` plus a JSON list
    of cases (``expected`` may also be spelt ``label``/``eval_result``). ``(None, [])`` when absent."""
    if not text:
        return None, []
    obj = _json_value(text.strip())
    if isinstance(obj, dict) and isinstance(obj.get("function"), str):
        return obj["function"], _cases(obj.get("cases"))
    blocks = code_blocks(text)
    code = next((b.code for b in blocks if b.is_python and re.search(rf"def\s+{ENTRY}\s*\(", b.code)), None)
    cases: list[dict[str, Any]] = []
    for b in blocks:
        if b.language in ("json", "") and not cases:
            cases = _cases(_json_value(b.code))
    return code, cases


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _cases(value: Any) -> list[dict[str, Any]]:
    out = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("response"), str):
            continue
        label = next((item[k] for k in ("expected", "label", "eval_result") if k in item), None)
        if isinstance(label, bool):
            out.append({"response": item["response"], "expected": label})
    return out


def compile_problem(code: str) -> str | None:
    """Why ``code`` is not a usable verifier (does not compile, defines no ``evaluate``), else None.
    Compiling on the host runs nothing."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        return f"does not compile ({type(e).__name__})"
    if not any(isinstance(n, ast.FunctionDef) and n.name == ENTRY for n in tree.body):
        return f"defines no top-level `{ENTRY}(response)`"
    return None


def merge_cases(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Test cases without duplicates; a response given with both labels is dropped (it cannot be right)."""
    labels: dict[str, set[bool]] = {}
    for c in cases:
        labels.setdefault(c["response"], set()).add(bool(c["expected"]))
    return [{"response": r, "expected": next(iter(v))} for r, v in labels.items() if len(v) == 1]


def verdict_job(code: str, response: str, expected: bool, timeout: float, memory_mb: int) -> dict[str, Any]:
    """The sandbox job: the harness calls ``evaluate(response)`` on ``code`` and expects ``expected``."""
    return {"code": code, "timeout": timeout, "memory_mb": memory_mb,
            "harness": {"kind": "call", "entry": ENTRY, "args": [response], "expected": bool(expected)}}


@dataclass
class CrossValidation:
    """The outcome for one instruction: the verifiers kept (code, accuracy over the kept cases,
    accuracy over their own cases), the cases kept, and why each other verifier was rejected."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def cross_validate(codes: list[str], own: list[list[int]], cases: list[dict[str, Any]], agree: list[list[bool]],
                   statuses: list[list[str]], min_accuracy: float) -> CrossValidation:
    """AutoIF's cross-check over the pooled cases. ``agree[i][j]``: verifier ``i`` classified case
    ``j`` right (``statuses[i][j]`` the sandbox status); ``own[i]``: the indices of the cases written
    with verifier ``i``. A case no verifier gets right is dropped (its label is likely wrong); a
    verifier is kept when its accuracy over the kept cases, and over its own cases, is at least
    ``min_accuracy``."""
    kept_cases = [j for j in range(len(cases)) if any(agree[i][j] for i in range(len(codes)))]
    out = CrossValidation(cases=[cases[j] for j in kept_cases])
    for i, code in enumerate(codes):
        accuracy = sum(agree[i][j] for j in kept_cases) / len(kept_cases) if kept_cases else 0.0
        mine = own[i]
        own_accuracy = sum(agree[i][j] for j in mine) / len(mine) if mine else accuracy
        if kept_cases and accuracy >= min_accuracy and own_accuracy >= min_accuracy:
            out.kept.append({"code": code, "accuracy": round(accuracy, 4), "own_accuracy": round(own_accuracy, 4)})
            continue
        odd = sorted({s for s in statuses[i] if s not in ("passed", "failed")})
        reason = (f"accuracy {accuracy:.2f} on {len(kept_cases)} cases, {own_accuracy:.2f} on its own "
                  f"(needs {min_accuracy})") if kept_cases else "no test case is classified right by any verifier"
        out.rejected.append({"index": i, "reason": reason + (f"; sandbox: {', '.join(odd)}" if odd else "")})
    return out
