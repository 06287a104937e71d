"""Every trainer format, exported from the runs of five built-in recipes (``generate``: prompt/response rows;
``verified-pairs``: rejection-sampling pairs of math problems; ``spin``: gold vs own pairs; ``reward-pairs``:
reward-ranked pairs with models and scores; ``constitutional``: a revised response and an AI-feedback pair) made
on a scripted model, loads with ``datasets.load_dataset("json")``
with exactly the documented columns and types, and the card beside the files loads as a Hub-style dataset."""

from __future__ import annotations

import re
from pathlib import Path

import datasets
import orjson
import pytest

from synthloom.io.export import ExportError, export_run
from synthloom.testing.recipe_runs import data_rows, run_recipe
from synthloom.testing.scripted import install_scripted_backend, user_text

STR, BOOL = datasets.Value("string"), datasets.Value("bool")
MESSAGES = datasets.List({"role": STR, "content": STR})
#: (format, style) -> the columns and types the docs promise (docs/export.md)
LAYOUTS = {
    ("trl-sft", "conversational"): {"messages": MESSAGES},
    ("trl-sft", "standard"): {"prompt": STR, "completion": STR},
    ("trl-dpo", "conversational"): {"prompt": MESSAGES, "chosen": MESSAGES, "rejected": MESSAGES},
    ("trl-dpo", "standard"): {"prompt": STR, "chosen": STR, "rejected": STR},
    ("trl-kto", "conversational"): {"prompt": MESSAGES, "completion": MESSAGES, "label": BOOL},
    ("trl-kto", "standard"): {"prompt": STR, "completion": STR, "label": BOOL},
    ("trl-rm", "conversational"): {"chosen": MESSAGES, "rejected": MESSAGES},
    ("trl-rm", "standard"): {"chosen": STR, "rejected": STR},
    ("openai-chat", None): {"messages": MESSAGES},
    ("sharegpt", None): {"conversations": datasets.List({"from": STR, "value": STR})},
    ("alpaca", None): {"instruction": STR, "input": STR, "output": STR, "system": STR},
}
SFT_FORMATS = [k for k in LAYOUTS if k[0] in ("trl-sft", "openai-chat", "sharegpt", "alpaca")]
PAIR_FORMATS = [k for k in LAYOUTS if k not in SFT_FORMATS]
PAIR_RECIPES = ["verified-pairs", "spin", "reward-pairs", "constitutional"]
PROBLEMS = [{"question": "What is 2 + 2?", "answer": "4", "solution": "2 + 2 = 4."},
            {"question": "What is 3 + 4?", "answer": "7", "solution": "3 + 4 = 7."}]  # as the seed problems: a gold solution
SFT_PROMPTS = [{"prompt": "Name a primary colour.", "response": "Red is a primary colour."},
               {"prompt": "What is the opposite of hot?", "response": "The opposite of hot is cold."},
               {"prompt": "Give a word that rhymes with cat.", "response": "Hat rhymes with cat."}]


def reply(req, j):
    """Math problems: choice 0 right, the others wrong; judges score "answer j:" texts by j + 2, Constitutional AI's
    feedback model answers A; else an echo."""
    if req.json_schema and "answer" in req.json_schema.get("properties", {}):
        return '{"answer": "A"}'
    if req.json_schema:
        judged = re.search(r"answer (\d+):", user_text(req))
        return f'{{"score": {int(judged.group(1)) + 2 if judged else 1}}}'
    text = user_text(req)
    asked = re.search(r"What is (\d+) \+ (\d+)\?", text)
    if asked:
        total = int(asked.group(1)) + int(asked.group(2))
        return f"Adding them gives \\boxed{{{total if j == 0 else total + 1}}}."
    return f"answer {j}: {text[:40]}"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, fake_server) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("recipes")
    problems = write_jsonl(base / "problems.jsonl", PROBLEMS)
    prompts = write_jsonl(base / "prompts.jsonl", SFT_PROMPTS)
    with pytest.MonkeyPatch.context() as mp:
        spec = install_scripted_backend(mp, reply, fake_server.url)
        model = ("--model", spec)
        run_recipe("generate", base / "generate", f"input={prompts}", extra_cli_args=model)
        run_recipe("verified-pairs", base / "verified-pairs", f"input={problems}", "k=2", extra_cli_args=("-n", "2", *model))
        run_recipe("spin", base / "spin", f"input={prompts}", extra_cli_args=model)
        run_recipe("reward-pairs", base / "reward-pairs", "k=3", extra_cli_args=("-n", "2", *model))
        run_recipe("constitutional", base / "constitutional", extra_cli_args=("-n", "2", *model))
    return {name: base / name for name in ("generate", *PAIR_RECIPES)}


def load(path: Path, tmp_path: Path) -> datasets.Dataset:
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf"))


def export_and_load(run: Path, fmt: str, style: str | None, tmp_path: Path) -> tuple[dict[str, list], list[dict]]:
    report = export_run(run, fmt, tmp_path / run.name / f"{fmt}-{style}.jsonl", style=style)
    assert report.written > 0 and report.outputs[0].is_file()
    ds = load(report.outputs[0], tmp_path)
    assert ds.features == datasets.Features(LAYOUTS[(fmt, style)])
    assert len(ds) == report.written
    return {column: list(ds[column]) for column in ds.column_names} | {"records": list(ds)}, data_rows(run)


def test_the_recipe_runs_hold_the_rows_the_exports_read(runs):
    assert {r["prompt"] for r in data_rows(runs["generate"])} == {p["prompt"] for p in SFT_PROMPTS}
    vp = data_rows(runs["verified-pairs"])
    assert len(vp) == 2 and all(r["chosen"].endswith(f"\\boxed{{{r['answer']}}}.") for r in vp)
    spin = data_rows(runs["spin"])
    assert len(spin) == 3 and all(r["pair_rule"] == "spin" and r["rejected_model"] == "default" for r in spin)
    assert all(r["pair_rule"] == "best_vs_worst" for r in data_rows(runs["reward-pairs"]))
    constitutional = data_rows(runs["constitutional"])
    assert len(constitutional) == 2 and all(r["response"] and r["chosen"] and r["rejected"] for r in constitutional)


@pytest.mark.parametrize(("fmt", "style"), SFT_FORMATS)
@pytest.mark.parametrize("recipe", ["generate", *PAIR_RECIPES])
def test_sft_formats_load_with_their_documented_columns(runs, tmp_path, recipe, fmt, style):
    ds, rows = export_and_load(runs[recipe], fmt, style, tmp_path)
    prompts = [r.get("prompt") or r.get("question") for r in rows]
    # SFT targets: the response (Constitutional AI's final revision), else a pair's chosen side
    answers = [r.get("response") or r["chosen"] for r in rows]
    assert len(ds["records"]) == len(rows)
    for record, prompt, answer in zip(ds["records"], prompts, answers, strict=True):
        if fmt == "trl-sft" and style == "standard":
            assert (record["prompt"], record["completion"]) == (prompt, answer)
        elif fmt == "alpaca":
            assert (record["instruction"], record["input"], record["output"], record["system"]) == (prompt, "", answer, "")
        elif fmt == "sharegpt":
            assert record["conversations"] == [{"from": "human", "value": prompt}, {"from": "gpt", "value": answer}]
        else:
            assert record["messages"] == [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


@pytest.mark.parametrize(("fmt", "style"), PAIR_FORMATS)
@pytest.mark.parametrize("recipe", PAIR_RECIPES)
def test_preference_formats_load_with_their_documented_columns(runs, tmp_path, recipe, fmt, style):
    ds, rows = export_and_load(runs[recipe], fmt, style, tmp_path)
    prompts = [r.get("prompt") or r["question"] for r in rows]
    user = [[{"role": "user", "content": p}] for p in prompts]
    assistant = [[{"role": "assistant", "content": r[side]}] for side in ("chosen", "rejected") for r in rows]
    n = len(rows)
    if fmt == "trl-kto":
        assert len(ds["records"]) == 2 * n and ds["label"] == [True, False] * n  # each pair: chosen desirable, rejected not
        want_prompts = [p for p in (prompts if style == "standard" else user) for _ in (0, 1)]
        assert ds["prompt"] == want_prompts
        sides = [r[s] for r in rows for s in ("chosen", "rejected")]
        assert ds["completion"] == (sides if style == "standard" else [[{"role": "assistant", "content": s}] for s in sides])
    elif fmt == "trl-dpo":
        assert ds["prompt"] == (prompts if style == "standard" else user)
        if style == "standard":
            assert (ds["chosen"], ds["rejected"]) == ([r["chosen"] for r in rows], [r["rejected"] for r in rows])
        else:
            assert ds["chosen"] + ds["rejected"] == assistant
    else:  # reward model: the prompt inside each side
        if style == "standard":
            assert ds["chosen"] == [f"{p}\n\n{r['chosen']}" for p, r in zip(prompts, rows, strict=True)]
        else:
            assert ds["chosen"] == [u + a for u, a in zip(user, assistant[:n], strict=True)]
            assert ds["rejected"] == [u + a for u, a in zip(user, assistant[n:], strict=True)]


def test_a_run_without_pairs_is_one_line_naming_it_and_the_missing_columns(runs):
    with pytest.raises(ExportError) as caught:
        export_run(runs["generate"], "trl-dpo")
    message = str(caught.value)
    assert "\n" not in message and str(runs["generate"]) in message
    assert "no row can be exported as trl-dpo: 3 without a chosen/rejected pair (no chosen, rejected column" in message
    assert "the rows have prompt, response" in message and "fix: export a run that makes preference pairs" in message
    assert not (runs["generate"] / "export" / "trl-dpo.jsonl").exists()


def test_the_card_loads_each_export_as_a_config_and_counts_models_and_rules(runs, tmp_path):
    run = runs["reward-pairs"]
    out = tmp_path / "export"
    for fmt in ("trl-dpo", "trl-kto", "trl-sft"):
        report = export_run(run, fmt, out / f"{fmt}.jsonl")
        assert report.card == out / "README.md"
    card = (out / "README.md").read_text()
    for fmt in ("trl-dpo", "trl-kto", "trl-sft"):
        ds = datasets.load_dataset(str(out), fmt, split="train", cache_dir=str(tmp_path / "hf"))
        assert len(ds) == len(load(out / f"{fmt}.jsonl", tmp_path))
    pairs = len(data_rows(run))
    assert f"| default | `{run_spec(run)}` | {pairs} | {pairs} |" in card  # chosen and rejected of the DPO export
    assert f"| best_vs_worst | {pairs} |" in card and f"| best_vs_worst | {2 * pairs} |" in card  # DPO, KTO
    assert "Xu et al. 2024, Magpie" in card and "reward-pairs" in card


def run_spec(run: Path) -> str:
    return orjson.loads((run / "run.json").read_bytes())["models"]["default"]["spec"]


def test_spin_gold_answers_are_counted_without_a_model(runs, tmp_path):
    report = export_run(runs["spin"], "trl-dpo", tmp_path / "dpo.jsonl")
    assert report.sources == {(None, "chosen"): 3, ("default", "rejected"): 3}
    assert report.pair_rules == {"spin": 3}
    assert "| — |  | 3 | 0 |" in (tmp_path / "README.md").read_text()
