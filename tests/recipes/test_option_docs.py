"""The option tables of the docs are generated from the step declarations and kept up to date."""

from __future__ import annotations

from pathlib import Path

from synthloom.recipes.option_docs import main, page_text, types_of_page

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_docs_option_tables_are_up_to_date(capsys):
    code = main(["--check", "--docs", str(DOCS)])
    assert code == 0, capsys.readouterr().out


def test_a_method_page_gets_a_table_for_each_of_its_step_types():
    assert types_of_page(DOCS / "methods" / "wrap.md") == ["wrap", "wrap_mix"]
    assert set(types_of_page(DOCS / "methods" / "glan.md")) >= {"glan_subjects", "glan_homework"}
    text = page_text(DOCS / "methods" / "wrap.md")
    assert "### `wrap`" in text and "| `style` | str | `'medium'` |" in text
