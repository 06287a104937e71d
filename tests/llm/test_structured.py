"""Structured output: lenient parsing (fuzzed), schema validation, re-asking, final error."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random

import pytest

from synthloom.llm.structured import (
    JSONParseError,
    SchemaValidationError,
    StructuredOutputError,
    complete_structured,
    parse_json_text,
    validate,
)
from synthloom.llm.types import Choice, Request, Response

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "score": {"type": "integer", "minimum": 1, "maximum": 10},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}, "minItems": 1, "maxItems": 3},
        "ratio": {"type": ["number", "null"]},
    },
    "required": ["name", "score"],
    "additionalProperties": False,
}


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"a": 1}', {"a": 1}),
        ('Sure! Here it is:\n```json\n{"a": [1, 2]}\n```\nHope that helps.', {"a": [1, 2]}),
        ("```\n[1, 2, 3]\n```", [1, 2, 3]),
        ('The answer is {"a": 1} and nothing else {"b": 2}', {"a": 1}),
        ("<think>maybe {\"wrong\": true}</think>{\"right\": true}", {"right": True}),
        ("{'a': 'single', 'b': True,}", {"a": "single", "b": True}),
        ('{"a": [1, 2,], "b": {"c": 3,},}', {"a": [1, 2], "b": {"c": 3}}),
        ('{"a": "cut off', {"a": "cut off"}),
        ('see [note 1]: {"x": 1}', {"x": 1}),
    ],
)
def test_parse_finds_and_repairs_json(text, expected):
    assert parse_json_text(text, "object" if isinstance(expected, dict) else None) == expected


def test_parse_prefers_the_expected_kind():
    assert parse_json_text('list [1, 2] then {"a": 1}', "object") == {"a": 1}
    assert parse_json_text('list [1, 2] then {"a": 1}', "array") == [1, 2]


@pytest.mark.parametrize("text", ["", "no json here at all", "I cannot help with that.", "```\n```"])
def test_parse_fails_clearly_without_json(text):
    with pytest.raises(JSONParseError):
        parse_json_text(text)


def _random_value(rng: random.Random, depth: int = 0):
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choice("abc xyz_-é") for _ in range(rng.randint(0, 8)))
    if kind == "int":
        return rng.randint(-1000, 1000)
    if kind == "float":
        return round(rng.uniform(-100, 100), 3)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(1, 4))]
    return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(1, 4))}


def _with_trailing_commas(text: str) -> str:
    return text.replace("]", ",]").replace("}", ",}")


def _single_quoted(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"'{k}': {_single_quoted(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_single_quoted(v) for v in value) + "]"
    if isinstance(value, str):
        return "'" + value + "'"
    return json.dumps(value)


def test_fuzz_recoverable_mutations_parse_back_to_the_original():
    rng = random.Random(20240601)
    prose = ["Here you go:", "Answer:", "Sure, the JSON is below.\n", "", "Result ->"]
    for _ in range(400):
        value = {f"field{i}": _random_value(rng) for i in range(rng.randint(1, 5))}
        text = json.dumps(value, ensure_ascii=False)
        mutation = rng.choice(["prose", "fence", "commas", "quotes", "all"])
        if mutation in ("commas", "all"):
            text = _with_trailing_commas(text)
        if mutation == "quotes":
            text = _single_quoted(value)
        if mutation in ("fence", "all"):
            text = f"```json\n{text}\n```"
        if mutation in ("prose", "fence", "all"):
            text = f"{rng.choice(prose)} {text} {rng.choice(['Thanks!', '', 'Let me know.'])}"
        assert parse_json_text(text, "object") == value, (mutation, text)


def test_fuzz_truncation_never_crashes_and_keeps_a_prefix_of_the_keys():
    rng = random.Random(7)
    for _ in range(400):
        value = {f"field{i}": _random_value(rng) for i in range(rng.randint(1, 5))}
        text = json.dumps(value)
        cut = text[: rng.randint(1, len(text) - 1)]
        try:
            parsed = parse_json_text(f"Output: {cut}", "object")
        except JSONParseError:
            continue
        assert isinstance(parsed, (dict, list))
        if isinstance(parsed, dict) and parsed:
            assert set(parsed) <= set(value)


# -- validation ------------------------------------------------------------------------------


def test_valid_values_pass():
    validate({"name": "x", "score": 3, "tags": ["a", "c"], "ratio": None}, SCHEMA)
    validate({"name": "x", "score": 10.0}, SCHEMA)  # 10.0 is an integer in JSON Schema


@pytest.mark.parametrize(
    "value, fragment",
    [
        ([1], "$: expected object, got array"),
        ({"score": 3}, "missing required property 'name'"),
        ({"name": "x", "score": 11}, "$.score: 11 is more than the maximum 10"),
        ({"name": "x", "score": 0}, "$.score: 0 is less than the minimum 1"),
        ({"name": "x", "score": True}, "$.score: expected integer, got boolean"),
        ({"name": "x", "score": 2.5}, "$.score: expected integer"),
        ({"name": "", "score": 2}, "$.name: string shorter than minLength 1"),
        ({"name": "x", "score": 2, "tags": []}, "fewer than minItems 1"),
        ({"name": "x", "score": 2, "tags": ["a", "b", "c", "a"]}, "more than maxItems 3"),
        ({"name": "x", "score": 2, "tags": ["d"]}, '$.tags[0]: "d" is not one of'),
        ({"name": "x", "score": 2, "extra": 1}, "unexpected property 'extra'"),
        ({"name": "x", "score": 2, "ratio": "1"}, "$.ratio: expected number or null"),
    ],
)
def test_invalid_values_name_the_problem(value, fragment):
    with pytest.raises(SchemaValidationError) as caught:
        validate(value, SCHEMA)
    assert fragment in str(caught.value)


def test_any_of_and_pattern():
    schema = {"anyOf": [{"type": "string", "pattern": "^[A-D]$"}, {"type": "integer"}]}
    validate("B", schema)
    validate(3, schema)
    with pytest.raises(SchemaValidationError, match="matches none"):
        validate("E", schema)


# -- asking ----------------------------------------------------------------------------------


class ScriptedModel:
    """Answers with the scripted texts in order and records the requests it was sent."""

    def __init__(self, texts: list[str], supports_json_schema: bool | None = False) -> None:
        self.identity = "scripted:json"
        self.supports_json_schema = supports_json_schema
        self.texts = list(texts)
        self.requests: list[Request] = []

    async def complete(self, request: Request) -> Response:
        self.requests.append(request)
        return Response([Choice(self.texts.pop(0))])

    async def aclose(self) -> None:
        pass


ASK = Request.chat([{"role": "user", "content": "Rate this."}], temperature=0.0)


def test_bad_answer_is_shown_back_with_the_error_and_fixed():
    model = ScriptedModel(['{"name": "x", "score": 42}', 'Fixed: {"name": "x", "score": 7}'])
    value, response = asyncio.run(complete_structured(model, ASK, SCHEMA))
    assert value == {"name": "x", "score": 7} and response.text.startswith("Fixed")
    assert response.parsed == value
    second = model.requests[1].messages
    assert second[:1] == ASK.messages
    assert second[1] == {"role": "assistant", "content": '{"name": "x", "score": 42}'}
    assert "42 is more than the maximum 10" in second[2]["content"]
    assert model.requests[0].json_schema is None  # this backend has no server-side support


def test_schema_is_sent_when_the_backend_supports_it():
    for support in (True, None):
        model = ScriptedModel(['{"name": "x", "score": 1}'], supports_json_schema=support)
        asyncio.run(complete_structured(model, ASK, SCHEMA))
        assert model.requests[0].json_schema == SCHEMA


def test_raw_prompt_reask_changes_the_seed():
    model = ScriptedModel(["nope", '{"name": "x", "score": 1}'])
    asyncio.run(complete_structured(model, Request.completion("Give JSON:", seed=5), SCHEMA))
    assert [r.seed for r in model.requests] == [5, 6]


def test_final_failure_keeps_the_raw_text_and_error():
    model = ScriptedModel(["not json", '{"name": 1}', '{"name": "x"}'])
    with pytest.raises(StructuredOutputError) as caught:
        asyncio.run(complete_structured(model, ASK, SCHEMA, max_attempts=3))
    err = caught.value
    assert err.raw_text == '{"name": "x"}' and err.attempts == 3
    assert "missing required property 'score'" in err.validation_error
    assert not err.retryable and len(model.requests) == 3


# -- through the full stack against the fake OpenAI server -----------------------------------


def _serve(**settings):
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    return FakeOpenAIServer(FakeServerConfig(**settings))


@pytest.mark.skipif(
    importlib.util.find_spec("synthloom.llm.backends.openai") is None, reason="needs synthloom.llm.backends.openai"
)
@pytest.mark.parametrize("server_side", [True, False])
def test_structured_output_through_the_stack(server_side):
    from synthloom.llm.client import build_model
    from synthloom.llm.spec import parse_model_spec

    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}

    async def run(url):
        model = build_model(parse_model_spec(f"openai:fake-model@{url}"))
        try:
            return await complete_structured(model, ASK, schema)
        except StructuredOutputError as exc:
            return exc
        finally:
            await model.aclose()

    with _serve(json_schema_supported=server_side) as srv:
        result = asyncio.run(run(srv.url))
        requests = srv.stats()["requests"]
    if server_side:  # the server decodes to the schema: the first answer validates
        value, response = result
        assert isinstance(value["answer"], str) and requests == 1
    else:  # 400 on response_format, resent without it, plain text three times
        assert isinstance(result, StructuredOutputError)
        assert result.raw_text.startswith("Reply to: That answer is not valid")
        assert "no JSON object or array" in result.validation_error
        assert requests == 4
