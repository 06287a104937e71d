"""Property tests of the recipe loader: any text is either a recipe or a RecipeError (never another
exception), every key's line is where it sits in the file, ``--set`` values are a parsed value or a
RecipeError, and a whole-string ``${param}`` keeps its value's type."""

from __future__ import annotations

import keyword

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from synthloom.recipes import loader
from synthloom.recipes.loader import Recipe, RecipeError, apply_overrides, parse_recipe, substitute

#: how the loader reads a --set value (YAML 1.2 booleans where the loader has them)
read_value = getattr(loader, "load_yaml", yaml.safe_load)

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(lambda n: not keyword.iskeyword(n))
SCALARS = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(alphabet="abcdefghij ./-_", max_size=20), st.booleans())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_recipe_or_a_recipe_error(text):
    try:
        recipe = parse_recipe(text, "r.yaml")
    except RecipeError as e:
        assert str(e).startswith("r.yaml") and "\n" not in str(e)
    else:
        assert isinstance(recipe.data, dict) and recipe.data["steps"]


@settings(max_examples=150, deadline=None)
@given(params=st.dictionaries(NAMES, SCALARS, max_size=5),
       steps=st.lists(st.tuples(NAMES, st.dictionaries(NAMES, SCALARS, max_size=3)), min_size=1, max_size=6))
def test_every_key_has_the_line_it_sits_on(params, steps):
    data = {"name": "prop", "params": params,
            "steps": [{"name": n, "type": "llm", **{k: v for k, v in opts.items() if k not in ("name", "type")}}
                      for n, opts in steps]}
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    recipe = parse_recipe(text, "r.yaml")
    lines = text.splitlines()
    for key in params:
        assert lines[recipe.line("params", key) - 1].lstrip().startswith(f"{key}:")
    for i, (name, _) in enumerate(steps):
        line = lines[recipe.line("steps", i) - 1]
        assert line.lstrip().startswith("- name:") and name in line
        assert lines[recipe.line("steps", i, "type") - 1].strip() == "type: llm"


def _recipe(params: dict) -> Recipe:
    return parse_recipe(yaml.safe_dump({"params": params, "steps": [{"name": "s", "type": "llm"}]}), "r.yaml")


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=60))
def test_a_set_value_is_parsed_or_refused_with_a_recipe_error(value):
    recipe = _recipe({"topic": "x"})
    try:
        apply_overrides(recipe, [f"topic={value}"], None)
    except RecipeError as e:
        assert "--set topic" in str(e) and "\n" not in str(e)
        return
    assert not any(mark in value for mark in ("{{", "{%", "{#"))
    got = recipe.data["params"]["topic"]
    if not value.strip():
        assert got == ""
    else:
        expected = read_value(value)
        assert got == expected or (got != got and expected != expected)  # NaN equals no NaN
    assert got is None or isinstance(got, (str, int, float, bool, list, dict))


@settings(max_examples=200, deadline=None)
@given(value=SCALARS, prefix=st.text(alphabet="abc -", max_size=5))
def test_whole_string_reference_keeps_the_type_and_embedded_one_is_text(value, prefix):
    recipe = _recipe({"p": value})
    params = {"p": value}
    assert substitute("${p}", params, recipe, ("params", "q")) == value
    assert type(substitute("${p}", params, recipe, ("params", "q"))) is type(value)
    assert substitute(f"{prefix}${{p}}!", params, recipe, ("params", "q")) == f"{prefix}{value}!"
