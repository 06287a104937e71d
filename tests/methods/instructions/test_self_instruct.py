"""Self-Instruct: seed files, the numbered-list prompt and parser, the filters, the bootstrap loop
(on a scripted model), classification and instance parsing, and an end-to-end run."""

from __future__ import annotations

import asyncio
import json

import pytest
from rouge_score import rouge_scorer

from synthloom.curate.rouge_gate import RougeLGate
from synthloom.io.shards import read_shards
from synthloom.llm.types import Choice, Request, Response, Usage
from synthloom.methods.instructions.self_instruct import (
    Bootstrap,
    SeedFileError,
    SelfInstructBootstrap,
    clean_instruction,
    hash_seed,
    instruction_filter,
    load_seed_tasks,
    parse_numbered_list,
)
from synthloom.methods.instructions.self_instruct_instances import (
    SelfInstructClassify,
    SelfInstructInstances,
    filter_instances,
    parse_classification_instances,
    parse_generation_instances,
    parse_yes_no,
)
from synthloom.pipeline.step import Rejected, RejectedRow
from synthloom.testing.recipe_runs import needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel as ReplyModel
from synthloom.testing.scripted import scripted_context

# -- seeds ---------------------------------------------------------------------------------------------

def test_builtin_seed_set_is_ours_diverse_and_valid():
    tasks = load_seed_tasks()
    assert len(tasks) == 175  # the paper's seed pool size; the tasks are written for this project
    assert len({t["instruction"] for t in tasks}) == len({t["name"] for t in tasks}) == len(tasks)
    assert all(t["instances"] and all(i["output"] for i in t["instances"]) for t in tasks)
    # the paper's task types: classification and generation, each with and without an input
    clf = [t for t in tasks if t["is_classification"]]
    no_input = [t for t in tasks if all(not i["input"] for i in t["instances"])]
    assert len(clf) >= 25 and len(no_input) >= 50
    assert len([t for t in clf if t not in no_input]) >= 20
    assert len([t for t in tasks if not t["is_classification"] and t not in no_input]) >= 50
    # distinct enough that none would fail the pool's own ROUGE-L gate
    gate = RougeLGate(threshold=0.7)
    assert all(gate.check_and_add(t["instruction"])[0] for t in tasks)


def test_prompts_from_the_builtin_seeds_show_six_human_and_two_machine_instructions():
    boot = Bootstrap(load_seed_tasks(), step="si")
    first = boot.prompt_instructions(0, 0)
    assert len(first) == 8 and set(first) <= set(boot.seed_instructions)  # no machine pool yet: 8 seeds
    boot.machine = [f"Machine task number {i} is here" for i in range(5)]
    shown = boot.prompt_instructions(1, 3)
    assert len(shown) == 8 and sum(s in boot.machine for s in shown) == 2
    assert sum(s in boot.seed_instructions for s in shown) == 6
    seen = {s for r in range(20) for slot in range(8) for s in boot.prompt_instructions(r, slot)}
    assert len(seen & set(boot.seed_instructions)) > 100  # the whole pool gets sampled


def test_user_seed_file_in_the_original_format(tmp_path):
    p = tmp_path / "seed_tasks.jsonl"
    p.write_text(json.dumps({"id": "seed_task_0", "name": "breakfast_suggestion",
                             "instruction": "Is there anything I can eat for a breakfast that doesn't include eggs?",
                             "instances": [{"input": "", "output": "Yes, oatmeal."}], "is_classification": False}) + "\n\n")
    (task,) = load_seed_tasks(p)
    assert task["id"] == "seed_task_0" and task["instances"] == [{"input": "", "output": "Yes, oatmeal."}]


@pytest.mark.parametrize("line, fragment", [
    ('{"instruction": "ok", "instances": []}\n{not json', ":2: not valid JSON"),
    ('{"name": "x", "instances": []}', ":1: the task has no non-empty string `instruction`"),
    ('{"instruction": "x", "instances": [{"input": "a"}]}', ":1: `instances` must be a list"),
    ('{"instruction": "x", "is_classification": "yes"}', ":1: `is_classification` must be true or false"),
    ('["a list"]', ":1: expected a JSON object"),
])
def test_malformed_seed_file_names_the_line(tmp_path, line, fragment):
    p = tmp_path / "bad.jsonl"
    p.write_text(line + "\n")
    with pytest.raises(SeedFileError) as e:
        load_seed_tasks(p)
    assert str(p) + fragment in str(e.value)


def test_missing_seed_file_says_what_to_give(tmp_path):
    with pytest.raises(SeedFileError, match="does not exist; give the path of a JSONL file"):
        load_seed_tasks(tmp_path / "nope.jsonl")


# -- prompt and parser ---------------------------------------------------------------------------------

def test_prompt_numbers_eight_instructions_and_ends_at_nine():
    p = SelfInstructBootstrap("si").encode_prompt([f"Task  number {i}:" for i in range(8)])
    lines = p.splitlines()
    assert lines[0] == "Come up with a series of tasks:"
    assert lines[1] == "1. Task number 0" and lines[8] == "8. Task number 7"
    assert p.endswith("\n9.")
    clf = SelfInstructBootstrap("si", classification_only=True).encode_prompt(["a"])
    assert clf.startswith("Come up with a series of classification tasks.")


def test_parse_raw_continuation_of_item_nine():
    text = " Tell me a joke about cats.\n10. Name three rivers in Africa.\n11.Write a limerick.\n12) List the planets in order.\n"
    assert parse_numbered_list(text) == ["Tell me a joke about cats.",
                                         "Name three rivers in Africa. 11.Write a limerick.",  # no space: not a number
                                         "List the planets in order."]


def test_parse_chat_answer_with_preamble_bold_numbers_and_junk():
    text = ("Sure! Here are some more tasks:\n\n9. Describe a sunset to someone who has never seen one.\n"
            "**10.** Give me a recipe for\n   lentil soup.\n\n11. \n12. Explain recursion simply.\n"
            "I hope these help!")
    items = parse_numbered_list(text, continues_item=False)
    assert items == ["Describe a sunset to someone who has never seen one.", "Give me a recipe for lentil soup.",
                     "Explain recursion simply. I hope these help!"]


def test_parse_text_without_numbers_is_one_item():
    assert parse_numbered_list("Just one task here", continues_item=False) == ["Just one task here"]
    assert parse_numbered_list("   \n ", continues_item=False) == []


def test_clean_instruction_keeps_acronyms():
    assert clean_instruction("  write an SQL   query\n for it") == "Write an SQL query for it"


@pytest.mark.parametrize("text, name", [
    ("", "empty"),
    ("Summarize this text briefly", None),
    ("Summarize this text", "length"),
    ("Summarize this", "length"),
    (" ".join(["word"] * 151), "length"),
    ("Describe the image of the cat below", "keyword_blacklist"),
    ("Explain the plot of Hamlet in three sentences", "keyword_blacklist"),
    ("Tell me how to go to the station from here", "keyword_blacklist"),
    ("Create a flowchart for making coffee at home", "keyword_blacklist"),
    ("Write a program that sorts numbers in Python", "bad_prefix"),
    ("- Give three reasons to learn Spanish", "punctuation_start"),
    ("\"Quote\" this sentence back to me please", "punctuation_start"),
    ("Écris une phrase sur le printemps maintenant", "non_ascii_start"),
    ("Give examples of mapping functions in Python", None),  # 'map' only as a whole word
])
def test_instruction_filters(text, name):
    reason = instruction_filter(text)
    assert (reason.split(":")[0] if reason else None) == name


# -- the loop on a scripted model ----------------------------------------------------------------------

class ScriptedModel:
    """Answers each request with the next scripted text (cycling); records the requests."""

    identity = "scripted"

    def __init__(self, texts, finish="stop"):
        self.texts, self.finish, self.requests = list(texts), finish, []

    async def complete(self, request: Request) -> Response:
        self.requests.append(request)
        text = self.texts[(len(self.requests) - 1) % len(self.texts)]
        finish = self.finish(text) if callable(self.finish) else self.finish
        return Response([Choice(text, finish)], Usage(10, 5))


def _seeds(n=10):
    return [{"id": f"s{i}", "name": "", "instruction": f"Seed task number {i} about topic {i}", "instances": [],
             "is_classification": i % 2 == 0} for i in range(n)]


def _step(tmp_path, model, **options):
    """A bootstrap step over ``_seeds()`` asking ``model``, set up as a run would."""
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(s) + "\n" for s in _seeds()))
    step = SelfInstructBootstrap("si", seeds=str(seeds), **options)
    step.setup(scripted_context(model, step="si"))
    return step


def _round(step, round_no=0, wanted=100):
    boot = step.new_bootstrap()
    return boot, asyncio.run(step.run_round(boot, round_no, wanted))


def test_bootstrap_round_filters_and_grows_the_pool(tmp_path):
    answer = ("Sure, here you go:\n9. Name three famous bridges in Europe.\n10. Draw a cat.\n"
              "11. Name three famous bridges in Europe!\n12. Seed task number 3 about topic 3\n"
              "13. Explain why leaves change colour in autumn.\n14. Write a program to add numbers together now")
    model = ScriptedModel([answer])
    boot, rows = _round(_step(tmp_path, model, requests_per_round=1))
    kept = [r for r in rows if isinstance(r, dict)]
    rejected = {r.record["instruction"]: r.record["rejected_filter"] for r in rows if isinstance(r, RejectedRow)}
    assert [r["instruction"] for r in kept] == ["Name three famous bridges in Europe.",
                                                "Explain why leaves change colour in autumn."]
    assert rejected == {"Draw a cat.": "length", "Name three famous bridges in Europe!": "rouge_l",
                        "Seed task number 3 about topic 3": "rouge_l",
                        "Write a program to add numbers together now": "bad_prefix"}
    assert all(r.verdict.reason.startswith(r.record["rejected_filter"] + ":") for r in rows if isinstance(r, RejectedRow))
    assert boot.machine == [r["instruction"] for r in kept] and len(boot.gate) == 12
    (req,) = model.requests
    prompt = req.messages[0]["content"]
    assert prompt.count("\n") == 9 and prompt.endswith("9.")  # header + 8 tasks, all seeds in round 0
    assert (req.temperature, req.top_p, req.stop, req.seed) == (0.7, 0.5, ("\n16.", "16."), hash_seed(0, 0, 0))
    assert all(r["_lineage"][0]["step"] == "si" and r["_lineage"][0]["model"] == "scripted" for r in kept)
    assert len({r["id"] for r in kept} | {r.record["id"] for r in rows if isinstance(r, RejectedRow)}) == len(rows)


def test_second_round_mixes_two_machine_instructions():
    boot = Bootstrap(_seeds(), step="si")
    boot.machine = ["Machine one is here", "Machine two is here", "Machine three is here"]
    shown = boot.prompt_instructions(1, 0)
    assert len(shown) == 8 and sum(s.startswith("Machine") for s in shown) == 2
    assert set(shown) - set(boot.machine) <= set(boot.seed_instructions)
    assert shown == boot.prompt_instructions(1, 0)  # deterministic
    # every slot of a round, and the same slot of another round, sees its own prompt
    prompts = {tuple(boot.prompt_instructions(round_no, slot)) for round_no in (1, 2) for slot in range(8)}
    assert len(prompts) == 16


def test_truncated_generation_drops_only_the_last_item(tmp_path):
    model = ScriptedModel([" Plan a birthday party for ten kids.\n10. Suggest five names for a pet turtle.\n11. Describe the"],
                          finish="length")
    _, rows = _round(_step(tmp_path, model, requests_per_round=1, raw=True), wanted=10)
    assert [r["instruction"] for r in rows if isinstance(r, dict)] == [
        "Plan a birthday party for ten kids.", "Suggest five names for a pet turtle."]
    (rej,) = [r for r in rows if isinstance(r, RejectedRow)]
    assert rej.record["rejected_filter"] == "truncated"
    assert model.requests[0].prompt.endswith("9.")  # raw completion


def test_round_stops_at_the_wanted_count(tmp_path):
    model = ScriptedModel(["9. Tell me about the moon landing.\n10. List four kinds of clouds please."])
    _, rows = _round(_step(tmp_path, model, requests_per_round=2), wanted=1)
    assert [r["instruction"] for r in rows if isinstance(r, dict)] == ["Tell me about the moon landing."]


def test_too_few_seeds_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="each prompt needs 6 of them"):
        Bootstrap(_seeds(3), step="si")
    seeds = tmp_path / "three.jsonl"
    seeds.write_text("".join(json.dumps(s) + "\n" for s in _seeds(3)))
    with pytest.raises(ValueError, match="each prompt needs 6 of them"):  # when the step is built, not mid-run
        SelfInstructBootstrap("si", seeds=str(seeds))


def test_source_reads_on_the_event_loop_until_the_target(tmp_path):
    """``aread`` runs round after round on the caller's loop (no thread) and stops at ``limit``;
    each round's requests get their own seeds."""
    model = ScriptedModel(["9. Tell me about the moon landing.", "9. List four kinds of clouds please.",
                           "9. Name a good book for a long trip.", "9. Give me a tip for sleeping better."])
    step = _step(tmp_path, model, requests_per_round=2, num_instructions=10)
    assert step.is_async

    async def read():
        return [row async for row in step.aread(limit=3)]

    rows = asyncio.run(read())
    assert [r["instruction"] for r in rows] == ["Tell me about the moon landing.", "List four kinds of clouds please.",
                                                "Name a good book for a long trip."]
    assert [r["round"] for r in rows] == [0, 0, 1]
    assert [q.seed for q in model.requests] == [hash_seed(0, r, s) for r in (0, 1) for s in (0, 1)]


def test_gate_agrees_with_rouge_score_on_pool_decisions():
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    pool = ["Give three tips for staying healthy.", "What are the three primary colors?",
            "Describe the structure of an atom.", "How can we reduce air pollution?"]
    candidates = ["Give three tips for staying happy.", "Describe the structure of a molecule.",
                  "What are three primary colours?", "Invent a new board game for two players."]
    boot = Bootstrap([{"id": str(i), "name": "", "instruction": p, "instances": [], "is_classification": False}
                      for i, p in enumerate(pool)] * 2, step="si")
    for c in candidates:
        best = max(scorer.score(p, c)["rougeL"].fmeasure for p in pool)
        keep, score, _ = boot.gate.check(c)
        assert keep == (best <= 0.7)
        if not keep:  # the gate prunes far-away candidates, so only a rejection's score is exact
            assert score == pytest.approx(best, abs=1e-9)


# -- classification and instances ----------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [(" Yes", True), ("yes.", True), ("No", False), ("**No**", False),
                                         ("Maybe", None), ("", None)])
def test_parse_yes_no(text, value):
    assert parse_yes_no(text) is value


def test_classify_step_parses_and_keeps_raw_answer():
    step = SelfInstructClassify("clf")
    prompt = step.prompt({"instruction": "Is the review positive?"})
    assert prompt.rstrip().endswith("Task: Is the review positive?\nIs it classification?")
    out = step.parse({"instruction": "x"}, Response([Choice(" Yes\n")]))
    assert out["is_classification"] is True and out["classification_answer"] == "Yes"
    assert step.parse({"instruction": "x"}, Response([Choice("I think")]))["is_classification"] is False


def test_parse_input_first_examples():
    text = ("Example 1\nInput: 30 degrees Celsius\nOutput: 86 degrees Fahrenheit\n"
            "Example 2\nInput: 0 degrees Celsius\nOutput: 32 degrees Fahrenheit\nInput: 5\n")
    assert parse_generation_instances(text) == [("30 degrees Celsius", "86 degrees Fahrenheit"),
                                                ("0 degrees Celsius", "32 degrees Fahrenheit")]
    assert parse_generation_instances("Output: Paris is the capital.") == [("", "Paris is the capital.")]
    assert parse_generation_instances("I cannot help with that.") == []


def test_parse_output_first_labels():
    text = "Class label: Positive\nReview: Loved it.\nClass label: Negative\nReview: Hated it.\nClass label: Neutral"
    assert parse_classification_instances(text) == [("Review: Loved it.", "Positive"),
                                                    ("Review: Hated it.", "Negative"), ("", "Neutral")]
    assert parse_classification_instances("Positive") == []


def test_instance_filters():
    kept, counts, reason = filter_instances(
        [("a", "a"), ("b", ""), ("c:", "x"), ("d", "y"), ("d", "y"), ("e", " ".join(["w"] * 400)), ("f", "z")],
        truncated=True)
    assert reason is None and kept == [{"input": "d", "output": "y"}]
    assert counts == {"input_equals_output": 1, "empty_output": 1, "ends_with_colon": 1, "too_long": 1,
                      "duplicate": 1, "truncated": 1}
    _, _, reason = filter_instances([("same", "1"), ("same", "2")])
    assert reason.startswith("conflicting_instances:")
    _, _, reason = filter_instances([("x", "x")])
    assert reason == "no_valid_instances: input_equals_output=1"
    _, _, reason = filter_instances([])
    assert reason == "no_valid_instances: the answer had no parseable instance"


def test_instances_are_asked_as_json_where_the_backend_constrains_and_read_from_text_where_not():
    model = ReplyModel(lambda req: json.dumps({"instances": [{"input": "2 + 2", "output": "4"},
                                                             {"input": "3 + 3", "output": "3 + 3"}]}))
    model.supports_json_schema = True
    step = SelfInstructInstances("inst")
    step.setup(scripted_context(model))
    [out] = asyncio.run(step.process({"id": "t", "instruction": "Add the numbers.", "is_classification": False}))
    assert model.requests[0].json_schema["properties"]["instances"]["maxItems"] == 5
    assert out["instances"] == [{"input": "2 + 2", "output": "4"}] and out["instance_drops"]["input_equals_output"] == 1
    model.supports_json_schema = False
    model.reply = lambda req: "Example 1\nInput: 2 + 2\nOutput: 4\n"
    [out] = asyncio.run(step.process({"id": "u", "instruction": "Add the numbers.", "is_classification": False}))
    assert model.requests[1].json_schema is None and out["instances"] == [{"input": "2 + 2", "output": "4"}]
    assert SelfInstructInstances("raw", raw=True).constrained_schema() is None  # the paper's base-model format


def test_instances_step_picks_output_first_for_classification():
    step = SelfInstructInstances("inst", max_instances=1)
    assert "Class label:" in step.prompt({"instruction": "Is it spam?", "is_classification": True})
    assert "Come up with examples" in step.prompt({"instruction": "Write a poem.", "is_classification": False})
    out = step.parse({"instruction": "Is it spam?", "is_classification": True},
                     Response([Choice("Class label: Yes\nText: Win money now\nClass label: No\nText: Hi mom", "stop")]))
    assert out["instances"] == [{"input": "Text: Win money now", "output": "Yes"}]
    rej = step.parse({"instruction": "Write", "is_classification": False}, Response([Choice("no idea", "stop")]))
    assert isinstance(rej, Rejected) and rej.reason.startswith("no_valid_instances")


def test_bad_seed_path_in_the_step_fails_before_the_run(tmp_path):
    with pytest.raises(SeedFileError):
        SelfInstructBootstrap("si", seeds=str(tmp_path / "missing.jsonl"))


# -- end to end on the embedded model ------------------------------------------------------------------


@pytest.mark.slow
@needs_embedded
def test_self_instruct_recipe_end_to_end(tmp_path):

    out = tmp_path / "si"
    run = run_recipe("self-instruct", out, "steps.bootstrap.requests_per_round=2", "steps.bootstrap.max_rounds=2",
                     "max_tokens=96", "steps.instances.max_tokens=96", extra_cli_args=("-n", "2"))
    assert run["status"] == "completed"
    data = list(read_shards(out / "data"))
    assert len(data) == run["rows"]["data"]
    for row in data:
        assert set(row) == {"id", "_lineage", "instruction", "is_classification", "instances"}
        assert [e["step"] for e in row["_lineage"]] == ["bootstrap", "classify", "instances"]
        assert row["instances"] and all(set(i) == {"input", "output"} for i in row["instances"])
    rejected = side_rows(out, "rejected")
    by_step = {"bootstrap": "rejected_filter", "instances": None}
    for r in rejected:
        assert r["_rejected_by"] in by_step and r["_reason"]
        if r["_rejected_by"] == "bootstrap":
            assert r["_reason"].startswith(r["rejected_filter"] + ":")
    gen = run["counts"]["bootstrap"]
    assert gen["out"] <= 2 and gen["in"] == gen["out"] + gen["rejected"]
    assert run["counts"]["classify"]["in"] == gen["out"]


def test_bootstrap_is_deterministic_across_runs(tmp_path, fake_model):
    """Two fresh runs (no shared cache) send the same prompts with the same seeds and yield the
    same rows: what makes a resumed run exact."""
    from typer.testing import CliRunner

    from synthloom.cli.main import app
    from synthloom.io.shards import read_shards

    def run(out):
        result = CliRunner().invoke(app, ["run", "self-instruct", "-n", "3", "-o", str(out), "--quiet", "--model",
                                          fake_model, "--set", "steps.bootstrap.requests_per_round=2",
                                          "--set", "steps.bootstrap.max_rounds=2"])
        assert result.exit_code == 0, result.output
        rows = [r for sub in sorted((out / "rejected").iterdir()) for r in read_shards(sub)] \
            if (out / "rejected").exists() else []
        return rows + list(read_shards(out / "data")), json.loads((out / "run.json").read_text())

    a, run_a = run(tmp_path / "a")
    b, _ = run(tmp_path / "b")
    assert a and [(r["id"], r.get("instruction"), r.get("_reason")) for r in a] == \
        [(r["id"], r.get("instruction"), r.get("_reason")) for r in b]
    c = run_a["counts"]["bootstrap"]
    assert c["in"] == c["ok"] + c["rejected"] + c["errors"] and c["in"] > 0
