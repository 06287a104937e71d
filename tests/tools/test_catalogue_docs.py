"""docs/tools-catalogue.md is generated from the catalogue and must not go stale."""

from __future__ import annotations

from synthloom.tools import load_catalogue
from synthloom.tools.catalogue_docs import main, page_text, parameter_text


def test_the_page_is_current():
    assert main(["--check"]) == 0, "docs/tools-catalogue.md is stale: run python -m synthloom.tools.catalogue_docs"


def test_every_tool_and_category_is_on_the_page():
    cat = load_catalogue()
    text = page_text(cat)
    assert all(f"| `{t.name}` |" in text for t in cat) and all(f"## {c} (" in text for c in cat.categories)


def test_parameter_cells():
    assert parameter_text("unit", {"type": "string", "enum": ["m", "km"]}, True) == "`unit`: string (`m`, `km`)"
    assert parameter_text("xs", {"type": "array", "items": {"type": "number"}}, True) == "`xs`: list[number]"
    assert parameter_text("n", {"type": "integer", "default": 2}, False) == "`n`: integer = `2`"
