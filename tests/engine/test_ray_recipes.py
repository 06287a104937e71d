"""Every built-in recipe, run with ``--engine ray`` on a scripted model and a real local Ray cluster,
makes exactly the rows of the local engine (the golden digests that local runs wrote)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from synthloom.testing.scripted import install_scripted_backend


def _golden_module():
    """``tests/recipes/test_builtin_golden.py`` (tests/ is not a package): its reply, args and digests."""
    path = Path(__file__).parents[1] / "recipes" / "test_builtin_golden.py"
    spec = importlib.util.spec_from_file_location("builtin_golden_for_ray", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


G = _golden_module()


@pytest.mark.slow
@pytest.mark.parametrize("name", G.RECIPES)
def test_recipe_on_ray_equals_local(name, tmp_path, monkeypatch, fake_server, ray_local):
    spec = install_scripted_backend(monkeypatch, G.reply, fake_server.url)
    expected = json.loads(G.GOLDEN.read_text())[name]
    monkeypatch.setattr(G, "ARGS", (*G.ARGS, "--engine", "ray", "--ray-workers", "2"))
    assert G.run_builtin(name, tmp_path / "out", spec) == expected
