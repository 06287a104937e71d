"""Every built-in recipe, run on a scripted model, produces exactly the rows it produced when the
golden file was written: same ids, same columns, same lineage. A refactor of steps or of the model
call must not change what a recipe makes; a change made on purpose updates the golden file with
``python tests/recipes/test_builtin_golden.py --update`` (and says why in its commit)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import orjson
import pytest
import xxhash

from synthloom.recipes.build import builtin_catalogue
from synthloom.testing import recipe_runs
from synthloom.testing.scripted import install_scripted_backend

GOLDEN = Path(__file__).parent / "golden" / "builtin_rows.json"
#: recipe -> extra CLI arguments keeping the run to a few records
ARGS = ("-n", "3", "--partition-size", "2")
#: columns whose values depend on the machine or the clock, not on the recipe
VOLATILE = {"elapsed_s", "duration_s", "wall_s", "latency_s", "seconds", "action_seconds", "modified"}
#: where this checkout is: a bundled file's absolute path in a row (a document's ``path``) is digested without it
ROOT = str(Path(__file__).resolve().parents[2])


def schema_instance(schema: dict, key: str) -> object:
    """A small value valid for ``schema`` (enough for the schemas the built-in steps ask for)."""
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combo in ("anyOf", "oneOf", "allOf"):
        if combo in schema:
            return schema_instance(schema[combo][0], key)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: schema_instance(v, f"{key}.{k}") for k, v in props.items()}
    if kind == "array":
        n = max(int(schema.get("minItems", 2)), 1)
        return [schema_instance(schema.get("items", {"type": "string"}), f"{key}[{i}]") for i in range(n)]
    if kind == "integer":
        return int(schema.get("minimum", 3))
    if kind == "number":
        return float(schema.get("minimum", 3.0))
    if kind == "boolean":
        return True
    return f"text {key}"


def reply(req, j: int):
    """A deterministic answer that depends on the prompt (not on the seed), in every format the
    built-in methods parse: JSON for a schema, otherwise prose with a fenced code block, a boxed
    answer and numbered lines."""
    body = req.prompt if req.prompt is not None else "\x1e".join(m.get("content") or "" for m in req.messages)
    key = xxhash.xxh64_hexdigest(f"{body}\x1f{j}".encode())[:8]
    if req.json_schema:
        return json.dumps(schema_instance(req.json_schema, key))
    return (f"1. Item {key}\n2. Another item {key[:4]}\nStep 1: add 1 and 1.\nStep 2: it is 2.\n"
            f"```python\ndef solve(x):\n    return x + 1\n\nassert solve(1) == 2\n```\n"
            f"The answer is \\boxed{{2}}.")


def _digest(rows: list[dict]) -> list[str]:
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if k not in VOLATILE}
        if isinstance(v, list):
            return [clean(x) for x in v]
        if isinstance(v, str) and ROOT in v:
            return v.replace(ROOT, "<checkout>")
        return v

    return sorted(xxhash.xxh64_hexdigest(orjson.dumps(clean(r), option=orjson.OPT_SORT_KEYS)) for r in rows)


def model_args(name: str, spec: str) -> tuple[str, ...]:
    """``--model SPEC`` plus ``--set`` for every other model the recipe defines (a judge, a target, a
    competitor), so that no model of a golden run is the real embedded one."""
    import yaml

    import synthloom.recipes

    data = yaml.safe_load((Path(synthloom.recipes.__file__).parent / "builtin" / f"{name}.yaml").read_text())
    args = ["--model", spec]
    for model, entry in (data.get("models") or {}).items():
        if model != "default":
            args += ["--set", f"models.{model}.spec={spec}" if isinstance(entry, dict) else f"models.{model}={spec}"]
    return tuple(args)


def run_builtin(name: str, out: Path, spec: str) -> dict:
    try:
        run = recipe_runs.run_recipe(name, out, extra_cli_args=(*ARGS, *model_args(name, spec)))
    except AssertionError as e:  # a recipe that needs the user's input file: its message is the golden
        error = next((line for line in str(e).splitlines() if line.startswith("error:")), str(e))
        return {"refused": error.split("recipes/builtin/", 1)[-1].split("; fix:")[0]}
    return {
        "status": run["status"],
        "counts": {s: [c["in"], c["ok"], c["rejected"], c["errors"]] for s, c in run["counts"].items()},
        "data": _digest(recipe_runs.data_rows(out)),
        "rejected": _digest(recipe_runs.side_rows(out, "rejected")),
        "errors": _digest(recipe_runs.side_rows(out, "errors")),
    }


RECIPES = [r["name"] for r in builtin_catalogue()]


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_builtin_recipe_rows_unchanged(name, tmp_path, monkeypatch, fake_server):
    spec = install_scripted_backend(monkeypatch, reply, fake_server.url)
    golden = json.loads(GOLDEN.read_text())
    assert golden.get(name) is not None, f"no golden rows for {name!r}: run this file with --update {name}"
    assert run_builtin(name, tmp_path / "out", spec) == golden[name]


def _update() -> None:  # pragma: no cover - a maintenance command
    import tempfile

    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    class _Patch:
        def setitem(self, d, k, v):
            d[k] = v

    out: dict = {}
    with FakeOpenAIServer(FakeServerConfig()) as server, tempfile.TemporaryDirectory() as tmp:
        spec = install_scripted_backend(_Patch(), reply, server.url)
        only = [a for a in sys.argv[1:] if a != "--update"]
        for name in RECIPES:
            if only and name not in only:
                continue
            out[name] = run_builtin(name, Path(tmp) / name, spec)
            print(name, out[name], flush=True)
    current = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}  # read late: keep entries others wrote meanwhile
    current = {k: v for k, v in {**current, **out}.items() if k in RECIPES and v is not None}
    GOLDEN.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__" and "--update" in sys.argv:
    _update()
