"""Tool declarations: Python functions, module sources (parsed, never run) and JSON schemas + source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import pytest

from synthloom.llm.tools import tools_problem
from synthloom.tools import Tool, ToolModule, tool_from_function, tool_from_schema, tools_from_module_source

MODULE = '''"""Fixture tools."""
from typing import Literal

CATEGORY = "fixture"
Unit = Literal["km", "mi"]


def convert(value: float, unit: Unit, digits: int = 2, tags: list[str] | None = None) -> dict:
    """Convert a distance to another unit, rounding
    the result.

    More detail here.

    Args:
        value: the distance
            in the original unit.
        unit: the target unit.
        digits: decimals to keep.
        tags: labels to attach.

    Returns:
        The converted distance.
    """
    return {"value": round(value, digits), "unit": unit, "tags": tags or []}


def scale(factors: dict[str, float], *, flag: bool = False) -> float:
    """Multiply factors."""
    return 1.0


def _helper(x):
    return x
'''


def test_function_hints_become_a_json_schema() -> None:
    def lookup(city: str, limit: int, ratio: float, exact: bool, mode: Literal["a", "b"], codes: list[int],
               weights: dict[str, float], note: str | None = None, extra: Optional[int] = None,  # noqa: UP045
               level: Literal[1, 2, 3] = 1, pair: tuple[str, ...] = ("x",)) -> dict:
        """Look a city up.

        Args:
            city: the city's name.
        """
        return {}

    tool = tool_from_function(lookup, category="places")
    props = tool.parameters["properties"]
    assert props["city"] == {"type": "string", "description": "the city's name."}
    assert props["limit"] == {"type": "integer"} and props["ratio"] == {"type": "number"}
    assert props["exact"] == {"type": "boolean"}
    assert props["mode"] == {"type": "string", "enum": ["a", "b"]}
    assert props["codes"] == {"type": "array", "items": {"type": "integer"}}
    assert props["weights"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert props["note"] == {"type": ["string", "null"]}
    assert props["extra"] == {"type": ["integer", "null"]}
    assert props["level"] == {"type": "integer", "enum": [1, 2, 3], "default": 1}
    assert props["pair"] == {"type": "array", "items": {"type": "string"}, "default": ["x"]}
    assert tool.parameters["required"] == ["city", "limit", "ratio", "exact", "mode", "codes", "weights"]
    assert tool.parameters["additionalProperties"] is False
    assert tool.description == "Look a city up." and tool.category == "places"
    assert tool.entry == "lookup" and not tool.executable
    assert tools_problem([tool.openai()]) is None


def test_annotated_description_and_schema_extras() -> None:
    def pick(n: Annotated[int, "how many to pick", {"minimum": 1}], kind: Annotated[str, "the kind"] = "any") -> list:
        """Pick things.

        Args:
            n: overridden by the annotation.
        """
        return []

    props = tool_from_function(pick, category="x").parameters["properties"]
    assert props["n"] == {"type": "integer", "minimum": 1, "description": "how many to pick"}
    assert props["kind"] == {"type": "string", "description": "the kind", "default": "any"}


def test_nullable_enum_and_nested_optional() -> None:
    def f(unit: Literal["a", "b"] | None = None, items: list[float] | None = None) -> None:
        """F."""

    props = tool_from_function(f, category="x").parameters["properties"]
    assert props["unit"] == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert props["items"] == {"anyOf": [{"type": "array", "items": {"type": "number"}}, {"type": "null"}]}


@pytest.mark.parametrize(("hint_source", "fragment"), [
    ("set[int]", "unsupported type hint set[int]"),
    ("dict[int, str]", "use dict[str, X]"),
    ("object", "unsupported type hint object"),
])
def test_unsupported_hints_name_the_function_and_parameter(hint_source: str, fragment: str) -> None:
    namespace: dict = {}
    exec(f"def bad(x: {hint_source}) -> None:\n    '''Bad.'''\n", namespace)
    with pytest.raises(ValueError, match=r"function 'bad', parameter 'x': .*") as err:
        tool_from_function(namespace["bad"], category="x")
    assert fragment in str(err.value)


def test_signature_problems_are_clear() -> None:
    def no_hint(x) -> None:
        """No hint."""

    def star(*values: int) -> None:
        """Star."""

    def documents_ghost(x: int) -> None:
        """Ghost.

        Args:
            x: real.
            y: not a parameter.
        """

    with pytest.raises(ValueError, match="function 'no_hint', parameter 'x': add a type hint"):
        tool_from_function(no_hint, category="x")
    with pytest.raises(ValueError, match=r"\*values cannot be a tool parameter"):
        tool_from_function(star, category="x")
    with pytest.raises(ValueError, match="documents 'y', which is not a parameter"):
        tool_from_function(documents_ghost, category="x")


def test_module_source_declares_its_public_functions() -> None:
    tools = tools_from_module_source("fixture", MODULE, category="fixture", data_dir="/data")
    assert [t.name for t in tools] == ["convert", "scale"]
    convert, scale = tools
    assert convert.description == "Convert a distance to another unit, rounding the result.\n\nMore detail here."
    assert convert.returns == "The converted distance."
    props = convert.parameters["properties"]
    assert props["unit"] == {"type": "string", "enum": ["km", "mi"], "description": "the target unit."}
    assert props["value"]["description"] == "the distance in the original unit."
    assert props["digits"] == {"type": "integer", "description": "decimals to keep.", "default": 2}
    assert convert.parameters["required"] == ["value", "unit"]
    assert scale.parameters["properties"]["flag"] == {"type": "boolean", "default": False}
    assert convert.module == ToolModule("fixture", MODULE, "/data") and convert.module is scale.module
    assert convert.executable and convert.entry == "convert"


def test_module_source_matches_the_live_function() -> None:
    namespace: dict = {}
    exec(MODULE, namespace)
    live = tool_from_function(namespace["convert"], category="fixture")
    parsed = tools_from_module_source("fixture", MODULE, category="fixture")[0]
    assert live.parameters == parsed.parameters and live.description == parsed.description
    assert live.returns == parsed.returns


def test_module_source_is_parsed_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').write('x')\n\ndef ping(host: str) -> str:\n    '''Ping a host.'''\n    return host\n"
    tools = tools_from_module_source("side_effects", source, category="net")
    assert [t.name for t in tools] == ["ping"]
    assert not marker.exists()


def test_module_source_respects_all_and_refuses_bad_modules() -> None:
    source = "__all__ = ['b']\n\ndef a(x: int) -> int:\n    '''A.'''\n    return x\n\ndef b(x: int) -> int:\n    '''B.'''\n    return x\n"
    assert [t.name for t in tools_from_module_source("m", source, category="c")] == ["b"]
    with pytest.raises(ValueError, match=r"broken.py line 1: .*fix the Python syntax"):
        tools_from_module_source("broken", "def (:\n", category="c")
    with pytest.raises(ValueError, match="defines no public function"):
        tools_from_module_source("empty", "def _hidden(x: int) -> int:\n    return x\n", category="c")
    with pytest.raises(ValueError, match="async functions cannot be tools"):
        tools_from_module_source("aio", "async def fetch(url: str) -> str:\n    '''F.'''\n", category="c")
    with pytest.raises(ValueError, match=r"m.py, function 'f', parameter 'x': unsupported type hint Path"):
        tools_from_module_source("m", "from pathlib import Path\ndef f(x: Path) -> str:\n    '''F.'''\n", category="c")
    with pytest.raises(ValueError, match="positional-only"):
        tools_from_module_source("m", "def f(x: int, /) -> int:\n    '''F.'''\n", category="c")


SCHEMA = {"name": "get_weather", "description": "Weather of a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                         "required": ["city"]}}
IMPL = "def get_weather(city, days=1):\n    return {'city': city, 'days': days}\n"


def test_schema_forms_give_the_same_tool() -> None:
    bare = tool_from_schema(SCHEMA, IMPL, category="weather")
    wrapped = tool_from_schema({"type": "function", "function": SCHEMA}, IMPL, category="weather")
    assert bare == wrapped
    assert bare.openai() == {"type": "function", "function": SCHEMA}
    assert bare.executable and bare.module.source == IMPL and bare.entry == "get_weather"
    assert bare.module.name.isidentifier()
    simulated = tool_from_schema(SCHEMA, None, category="weather")
    assert not simulated.executable and simulated.module is None


def test_schema_errors() -> None:
    bad_type = {**SCHEMA, "parameters": {"type": "object", "properties": {"city": {"type": "text"}}}}
    with pytest.raises(ValueError, match=r"tool schema \(get_weather\): parameters at \$.city uses unknown type 'text'"):
        tool_from_schema(bad_type, None, category="c")
    with pytest.raises(ValueError, match="function name must be 1-64"):
        tool_from_schema({**SCHEMA, "name": "get weather"}, None, category="c")
    with pytest.raises(ValueError, match=r"defines no top-level function 'get_weather' \(functions: other\)"):
        tool_from_schema(SCHEMA, "def other(city):\n    pass\n", category="c")
    with pytest.raises(ValueError, match="the schema declares 'days', which get_weather\\(\\) does not accept"):
        tool_from_schema(SCHEMA, "def get_weather(city):\n    pass\n", category="c")
    with pytest.raises(ValueError, match="get_weather\\(\\) requires 'units', which the schema does not declare"):
        tool_from_schema(SCHEMA, "def get_weather(city, days, units):\n    pass\n", category="c")
    assert tool_from_schema(SCHEMA, "def get_weather(**kwargs):\n    pass\n", category="c").executable


def test_schema_entry_and_module_name() -> None:
    tool = tool_from_schema(SCHEMA, "def impl(city, days=1):\n    return city\n", category="c", entry="impl", module_name="weather_impl")
    assert tool.entry == "impl" and tool.module.name == "weather_impl" and tool.name == "get_weather"


def test_tool_and_module_invariants() -> None:
    with pytest.raises(ValueError, match="must be 1-64 letters"):
        Tool("bad name", "", {"type": "object"}, "c", None, "bad")
    with pytest.raises(ValueError, match="must be a Python identifier"):
        ToolModule("my-tools", "")
    a = tool_from_schema(SCHEMA, None, category="c")
    assert len({a, tool_from_schema(SCHEMA, None, category="c")}) == 1
