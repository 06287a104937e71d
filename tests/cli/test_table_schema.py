"""``synthloom table-schema``: infer a schema as YAML, write it, check an edited file."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from synthloom.cli.main import app  # noqa: E402
from synthloom.tabular.schema import TableSchema  # noqa: E402


def test_prints_writes_and_checks(tmp_path):
    runner = CliRunner()
    printed = runner.invoke(app, ["table-schema", "sklearn:iris"])
    assert printed.exit_code == 0 and "target: true" in printed.output and "sepal_length_cm:" in printed.output
    path = tmp_path / "iris.yaml"
    wrote = runner.invoke(app, ["table-schema", "sklearn:iris", "-o", str(path), "--max-categories", "5"])
    assert wrote.exit_code == 0 and TableSchema.from_yaml(path).target == "target"
    assert runner.invoke(app, ["table-schema", str(path), "--check"]).exit_code == 0
    path.write_text(path.read_text().replace("type: categorical", "type: categorial"))
    bad = runner.invoke(app, ["table-schema", str(path), "--check"])
    assert bad.exit_code != 0 and f"{path}:" in bad.output and "unknown type 'categorial'" in bad.output


def test_missing_file_is_one_line():
    result = CliRunner().invoke(app, ["table-schema", "/nonexistent.csv"])
    assert result.exit_code != 0 and "no such file" in result.output and "Traceback" not in result.output
