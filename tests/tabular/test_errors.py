"""A missing ``tabular`` extra is one clear line; the tabular modules import none of it until used."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from synthloom.tabular.errors import TableError, TabularExtraMissing, need


def test_need_names_the_extra():
    with pytest.raises(TabularExtraMissing) as e:
        need("surely_not_installed_module.sub")
    assert str(e.value) == ("tabular data needs 'surely_not_installed_module', which is not installed; "
                            "fix: pip install 'synthloom[tabular]'")
    assert isinstance(e.value, ImportError) and isinstance(e.value, TableError)


def test_modules_import_without_the_extra():
    code = ("import sys\nfor m in ('pandas', 'sklearn', 'copulas', 'faker', 'causallearn'): sys.modules[m] = None\n"
            "import synthloom.tabular.schema, synthloom.tabular.baselines, synthloom.tabular.sampler_steps, "
            "synthloom.tabular.generator_step, synthloom.tabular.table_io, synthloom.cli.main\nprint('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr


def test_a_run_without_the_extra_is_one_line(tmp_path, monkeypatch):
    from synthloom.cli.main import app

    monkeypatch.setitem(sys.modules, "pandas", None)
    result = CliRunner().invoke(app, ["run", "table-copula", "-o", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "pip install 'synthloom[tabular]'" in result.output and len(result.output.strip().splitlines()) == 1
