"""Fixtures for the environment tests: a bundled environment's tools module imported in-process over a
fresh copy of its seed state (the tool logic), and one sandbox executor per module (the real runs)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from synthloom.envs.environment import ENVS_DIR


def import_env_module(name: str, workdir: Path):
    """``envs/NAME/tools.py`` imported under a fresh module name, working on ``workdir``'s state.json
    (a copy of the seed) and schema.sql; the caller must have chdir'ed to ``workdir``."""
    folder = ENVS_DIR / name
    shutil.copy(folder / "schema.sql", workdir / "schema.sql")
    seed = json.loads((folder / "seed.json").read_text())
    (workdir / "state.json").write_text(json.dumps(seed))
    spec = importlib.util.spec_from_file_location(f"env_{name}_under_test", folder / "tools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, seed


@pytest.fixture
def env_module(tmp_path, monkeypatch):
    """``env_module(name) -> (module, seed)``: the tools of a bundled environment, in-process, on a
    fresh copy of its seed state in a temporary working directory."""
    monkeypatch.chdir(tmp_path)
    return lambda name: import_env_module(name, tmp_path)


@pytest.fixture(scope="module")
def executor():
    from synthloom.tools.executor import ToolExecutor

    with ToolExecutor(workers=1, timeout=10.0) as ex:
        yield ex
