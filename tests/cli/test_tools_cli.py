"""``synthloom tools``: the catalogue, a category, one tool's schema, a user's tools file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.tools import load_catalogue


def test_tools_lists_the_catalogue_and_one_category():
    cat = load_catalogue()
    result = CliRunner().invoke(app, ["tools"], terminal_width=200)
    assert result.exit_code == 0 and f"{len(cat)} tools" in result.output
    category = cat.categories[0]
    result = CliRunner().invoke(app, ["tools", category], terminal_width=200)
    assert result.exit_code == 0 and f"{len(cat.tools(category))} tools" in result.output


def test_one_tool_prints_its_openai_schema():
    tool = load_catalogue().tools()[0]
    result = CliRunner().invoke(app, ["tools", tool.name], terminal_width=200)
    assert result.exit_code == 0
    schema = json.loads(result.output[: result.output.rindex("}") + 1])
    assert schema == tool.openai() and "executable in the sandbox" in result.output


def test_unknown_names_and_files_are_one_line_errors(tmp_path):
    category = load_catalogue().categories[0]
    result = CliRunner().invoke(app, ["tools", category[:-1] + "x"], terminal_width=300)
    assert result.exit_code == 2 and f"did you mean '{category}'?" in result.output
    result = CliRunner().invoke(app, ["tools", "-f", str(tmp_path / "none.py")], terminal_width=300)
    assert result.exit_code == 2 and "none.py" in result.output and "Traceback" not in result.output


def test_a_user_tools_file(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text('CATEGORY = "mine"\n\n\ndef shout(text: str) -> str:\n    """Upper-case a text.\n\n    Args:\n'
                    '        text: what to shout.\n\n    Returns:\n        the text in capitals.\n    """\n'
                    '    return text.upper()\n')
    result = CliRunner().invoke(app, ["tools", "-f", str(path), "shout"], terminal_width=200)
    assert result.exit_code == 0 and '"name": "shout"' in result.output
