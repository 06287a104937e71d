"""Persona Hub: the persona pool and files, persona cleaning, Text-to-Persona and
Persona-to-Persona (scripted model), the dedup passes, the templates, and an end-to-end run."""

from __future__ import annotations

import asyncio

import pytest

from synthloom.io.shards import read_shards
from synthloom.llm.types import Choice, Request, Response, Usage
from synthloom.methods.instructions.persona import (
    PersonaDedup,
    PersonaFileError,
    PersonaPool,
    PersonaSynthesize,
    PersonaToPersona,
    TextToPersona,
    clean_persona,
    load_fewshot,
    load_personas,
    strip_prefix,
)
from synthloom.pipeline.step import Rejected, RejectedRow
from synthloom.testing.recipe_runs import needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import scripted_context, user_text


def test_builtin_pool_is_ours_and_unique():
    personas = load_personas()
    assert 50 <= len(personas) and len(set(personas)) == len(personas)
    assert [r["persona"] for r in PersonaPool("p").read(limit=2)] == personas[:2]


def test_user_files_jsonl_and_text(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"who": "A baker"}\n\n{"who": "A pilot"}\n')
    assert load_personas(tmp_path / "p.jsonl", field="who") == ["A baker", "A pilot"]
    (tmp_path / "p.txt").write_text("A baker\n\nA pilot\n")
    assert load_personas(tmp_path / "p.txt") == ["A baker", "A pilot"]


@pytest.mark.parametrize("content, fragment", [('{"persona": "ok"}\n{oops', ":2: not valid JSON"),
                                               ('{"name": "x"}', ":1: no non-empty string 'persona'"),
                                               ("", "holds no personas")])
def test_bad_persona_file_names_the_line(tmp_path, content, fragment):
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    with pytest.raises(PersonaFileError, match=fragment):
        load_personas(p)
    with pytest.raises(PersonaFileError, match="does not exist"):
        PersonaPool("p", path=str(tmp_path / "missing.jsonl"))


@pytest.mark.parametrize("raw, clean", [
    ("Persona: A nurse who works nights.", "A nurse who works nights."),
    ("**Persona description:** A retired teacher\nwho gardens.\n\nThis persona is interesting because...",
     "A retired teacher who gardens."),
    ('"A young chef in Lyon."', "A young chef in Lyon."),
])
def test_clean_persona(raw, clean):
    assert clean_persona(raw) == clean


@pytest.mark.parametrize("text, prefix, out", [
    ("Math problem: Find x.", "Math problem:", "Find x."), ("**Math Problem:** Find x.", "Math problem:", "Find x."),
    ("User prompt: Plan my week.", "User prompt:", "Plan my week."), ("Find x.", "Math problem:", "Find x."),
    ("Name: Grizel the Smith", "Name:", "Name: Grizel the Smith"), ("Title: Bees", "Title:", "Bees"),
])
def test_strip_prefix(text, prefix, out):
    assert strip_prefix(text, prefix) == out


class Scripted:
    identity = "scripted"

    def __init__(self, texts):
        self.texts, self.requests = list(texts), []

    async def complete(self, request: Request) -> Response:
        self.requests.append(request)
        return Response([Choice(self.texts.pop(0), "stop") for _ in range(request.n)], Usage(2, 2))


def _setup(step, model):
    step.setup(scripted_context(model, step=step.name))
    return step


def test_text_to_persona_one_child_per_relation():
    model = Scripted(["Persona: A hydrologist studying floods.", "A journalist covering climate."])
    step = _setup(TextToPersona("t2p", relations=["read", "write"]), model)
    rows = asyncio.run(step.process({"id": "d1", "text": "Rivers rose after the storm."}))
    assert [(r["persona_relation"], r["persona"]) for r in rows] == [("read", "A hydrologist studying floods."),
                                                                     ("write", "A journalist covering climate.")]
    assert "Who is likely to read the following text?" in model.requests[0].messages[0]["content"]
    assert len({r["id"] for r in rows}) == 2 and all(r["_lineage"][0]["parent"] == "d1" for r in rows)
    assert [r["_lineage"][0]["finish_reason"] for r in rows] == ["stop", "stop"]
    assert len({q.seed for q in model.requests}) == 2  # each relation samples with its own seed
    assert step.kind == "llm"  # a model step, whatever its number of children
    with pytest.raises(ValueError, match="unknown relation"):
        TextToPersona("x", relations=["hate"])


def test_persona_to_persona_hops_chain_parents():
    model = Scripted(["A nurse's colleague: an ICU doctor.", "The doctor's mentor, a retired surgeon."])
    step = _setup(PersonaToPersona("p2p", hops=2, include_input=True), model)
    rows = asyncio.run(step.process({"id": "r", "persona": "A night nurse"}))
    assert [r["persona_hop"] for r in rows] == [0, 1, 2]
    assert rows[2]["parent_persona"] == rows[1]["persona"] and rows[2]["root_persona"] == "A night nurse"
    assert rows[2]["_lineage"][0]["parent"] == rows[1]["id"]
    assert rows[2]["_lineage"][0]["hop"] == 2 and rows[2]["_lineage"][0]["finish_reason"] == "stop"
    assert "close relationship" in model.requests[1].messages[0]["content"]
    assert rows[1]["persona"] in model.requests[1].messages[0]["content"]


def test_dedup_exact_and_minhash_without_embeddings():
    rows = [{"id": "a", "persona": "A retired nurse who volunteers at the local library on weekends"},
            {"id": "b", "persona": "a retired  NURSE who volunteers at the local library on weekends"},
            {"id": "c", "persona": "A retired nurse who volunteers at the local library on weekends."},
            {"id": "d", "persona": "A young chef who runs a food truck"},
            {"id": "e", "persona": "  "}]
    out = list(PersonaDedup("dd", embedding_threshold=None).run(iter(rows)))
    kept = [r["id"] for r in out if isinstance(r, dict)]
    rejected = {r.record["id"]: r.verdict for r in out if isinstance(r, RejectedRow)}
    assert kept == ["a", "c", "d"] or kept == ["a", "d"]
    assert rejected["b"].reason.startswith("exact_duplicate") and rejected["b"].duplicate_of == "a"
    assert rejected["e"].reason.startswith("empty_persona")
    if "c" in rejected:
        assert rejected["c"].reason.startswith("minhash_duplicate")


def test_dedup_minhash_catches_a_near_copy():
    base = "a retired merchant navy engineer who restores old diesel boat engines in his garage every weekend"
    rows = [{"id": "a", "persona": base}, {"id": "b", "persona": base + " again"}]
    out = list(PersonaDedup("dd", embedding_threshold=None, minhash_threshold=0.8).run(iter(rows)))
    assert isinstance(out[0], dict) and out[0]["id"] == "a"
    assert isinstance(out[1], RejectedRow) and out[1].verdict.reason.startswith("minhash_duplicate")
    assert out[1].verdict.duplicate_of == "a"


def test_synthesize_templates():
    for name, needle in [("math", "Math problem:"), ("instruction", "User prompt:"), ("knowledge", "Quora article"),
                         ("npc", "Emberfall"), ("tool", "function definition")]:
        step = PersonaSynthesize("s", template=name)
        assert needle in step.prompt({"persona": "A beekeeper"}) and "A beekeeper" in step.prompt({"persona": "A beekeeper"})
    step = PersonaSynthesize("s", template="math")
    out = step.parse({"persona": "p"}, Response([Choice("Math problem: A hive has 3 frames...")]))
    assert out["synthesized_text"] == "A hive has 3 frames..." and out["persona_template"] == "math"
    assert isinstance(step.parse({"persona": "p"}, Response([Choice("Math problem:")])), Rejected)
    with pytest.raises(ValueError, match="template must be one of"):
        PersonaSynthesize("s", template="poem")


def test_persona_enhanced_few_shot_shows_each_demonstration_with_its_persona(tmp_path):
    step = PersonaSynthesize("s", template="math", n_examples=2)
    prompt = step.prompt({"id": "r1", "persona": "A lighthouse keeper"})
    assert prompt == step.prompt({"id": "r1", "persona": "A lighthouse keeper"})  # drawn per row, reproducibly
    assert prompt.count("\nPersona: ") == 2 and prompt.count("Math problem:") >= 3
    assert prompt.rstrip().endswith("4. Your created math problem should include no more than 2 sub-problems.")
    assert "A lighthouse keeper" in prompt.split("Now your task.")[1]
    for ex in load_fewshot(None, "math"):  # every bundled demonstration shows its persona and the prefix
        assert f"Persona: {ex['persona']}\n{ex['output']}" in "".join(
            step.prompt({"id": f"r{i}", "persona": "x"}) for i in range(40))
    shown = {p.split("Persona: ")[1].split("\n")[0] for i in range(20)
             for p in [PersonaSynthesize("s", n_examples=1).prompt({"id": f"r{i}", "persona": "x"})]}
    assert len(shown) > 1
    mine = tmp_path / "shots.jsonl"
    mine.write_text('{"persona": "A baker", "output": "Scale a recipe for 40 loaves.", "template": "math"}\n'
                    '{"persona": "A poet", "output": "User prompt: rhyme.", "template": "instruction"}\n')
    own = PersonaSynthesize("s", n_examples=1, examples=str(mine))
    assert "Persona: A baker\nMath problem: Scale a recipe for 40 loaves." in own.prompt({"id": "a", "persona": "x"})
    assert own.describe()["examples"] == [{"persona": "A baker", "output": "Math problem: Scale a recipe for 40 loaves."}]
    assert "Persona:" not in PersonaSynthesize("s").prompt({"id": "a", "persona": "x"})  # zero-shot by default
    with pytest.raises(ValueError, match="n_examples=2 but 1 few-shot"):
        PersonaSynthesize("s", n_examples=2, examples=str(mine))
    with pytest.raises(ValueError, match="for template 'knowledge'"):
        PersonaSynthesize("s", template="knowledge", n_examples=1)
    with pytest.raises(PersonaFileError, match="example 1 needs"):
        load_fewshot([{"persona": "", "output": "x"}], "math")
    (tmp_path / "broken.jsonl").write_text('{"persona": "p", "output": "o"}\n{oops\n')
    with pytest.raises(PersonaFileError, match=r"broken.jsonl:2: not valid JSON"):
        load_fewshot(str(tmp_path / "broken.jsonl"), "math")


def test_recipe_infers_personas_from_texts_then_generates_with_few_shot(tmp_path, scripted_model):
    def reply(req) -> str:
        text = user_text(req)
        if "Who is likely to" in text:
            subject = text.split("Text:")[1].strip()[:20]
            if "likely to read" in text:
                return f"Persona: A retired schoolteacher in Leeds who reads up on {subject}"
            return f"Persona: An agronomy professor writing a handbook chapter about {subject}"
        if "close relationship" in text:
            return "A sibling of " + text.split("Persona: ")[1][:30]
        assert "Now your task." in text and text.count("\nPersona: ") == 2
        return "Math problem: How many?"

    out = tmp_path / "persona"
    run = run_recipe("persona", out, extra_cli_args=("-n", "2", "--model", scripted_model(reply)))
    c = run["counts"]
    assert c["texts"]["out"] == 2 and c["text_to_persona"]["out"] == 4 and c["expand"]["out"] == 8
    data = list(read_shards(out / "data"))
    assert data and all(r["synthesized_text"] == "How many?" for r in data)
    hop0 = [r for r in data if r["persona_hop"] == 0]
    assert {r["persona_relation"] for r in hop0} == {"read", "write"}
    assert all(r["persona"].startswith(("A retired schoolteacher", "An agronomy professor")) for r in hop0)


# -- end to end ----------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_embedded
def test_persona_recipe_end_to_end(tmp_path):

    out = tmp_path / "persona"
    run = run_recipe("persona", out, "steps.synthesize.max_tokens=48", "steps.expand.max_tokens=40",
                     extra_cli_args=("-n", "2"))
    assert run["status"] == "completed"
    counts = run["counts"]
    assert counts["texts"]["out"] == 2 and counts["text_to_persona"]["out"] == 4 and counts["expand"]["out"] == 8
    data = list(read_shards(out / "data"))
    assert len(data) == counts["output"]["out"]
    for row in data:
        assert set(row) == {"id", "_lineage", "persona", "persona_relation", "persona_hop", "persona_template",
                            "synthesized_text"}
        assert row["persona_template"] == "math" and row["_lineage"][-1]["step"] == "synthesize"
    rejected = side_rows(out, "rejected")
    for r in rejected:
        assert r["_rejected_by"] in ("dedup", "synthesize")
        if r["_rejected_by"] == "dedup":
            assert r["_reason"].split(":")[0] in ("empty_persona", "exact_duplicate", "minhash_duplicate",
                                                  "embedding_duplicate")


def test_dedup_embedding_pass_catches_a_paraphrase():
    pytest.importorskip("onnxruntime")
    rows = [{"id": "a", "persona": "A retired nurse who volunteers at the public library"},
            {"id": "b", "persona": "A nurse, now retired, who does volunteer work at the public library"},
            {"id": "c", "persona": "A teenage skateboarder who builds ramps from scrap wood"}]
    out = list(PersonaDedup("dd", minhash_threshold=None, embedding_threshold=0.8).run(iter(rows)))
    kept = [r["id"] for r in out if isinstance(r, dict)]
    (rej,) = [r for r in out if isinstance(r, RejectedRow)]
    assert kept == ["a", "c"] and rej.record["id"] == "b"
    assert rej.verdict.reason.startswith("embedding_duplicate") and rej.verdict.duplicate_of == "a"
