"""LAB knowledge pipeline: chunking, knowledge leaves, grounded Q&A generation, the three InstructLab
judges with their thresholds (both the constrained JSON and the free-text path), and the built-in
``lab`` recipe end to end on a scripted model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from synthloom.io.shards import read_shards
from synthloom.llm.types import Choice, TokenLogprob
from synthloom.methods.instructions.lab import TaxonomyError
from synthloom.methods.instructions.lab_knowledge import (
    MAX_PAIRS,
    LabFaithfulness,
    LabGenerateQA,
    LabKnowledge,
    LabQuestionQuality,
    LabRelevancy,
    chunk_document,
    load_knowledge,
    parse_qa_pairs,
    structured_pairs,
)
from synthloom.pipeline.llm_step import RowError
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text


def leaf(n_seeds=5, **extra):
    seeds = [{"context": f"Context {i}.", "questions_and_answers": [
        {"question": f"Q{i}.{j}?", "answer": f"A{i}.{j}."} for j in range(3)]} for i in range(n_seeds)]
    return {"leaf": "knowledge/x", "domain": "biology", "document": "Para one. " * 30, "seed_examples": seeds, **extra}


def write_leaves(tmp_path, *leaves):
    path = tmp_path / "k.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in leaves))
    return path


# -- chunks and leaves --------------------------------------------------------------------------------------
def test_chunks_respect_the_word_limit_and_carry_whole_sentences_over():
    text = "# Title\n\n" + "\n\n".join(" ".join(f"Sentence {p}.{s} has five words." for s in range(4))
                                         for p in range(6))
    chunks = chunk_document(text, chunk_words=45, overlap_words=12)
    assert len(chunks) > 2 and all(len(c.split()) <= 45 for c in chunks)
    assert chunks[0].startswith("# Title")
    # every chunk after the first starts with the last sentences of the one before
    for prev, cur in zip(chunks, chunks[1:]):
        assert cur.split(" has five words.")[0].split()[-1] in prev
    assert chunk_document("one two three", 1000) == ["one two three"]
    one_long = chunk_document(" ".join(["word"] * 250), chunk_words=100, overlap_words=0)
    assert [len(c.split()) for c in one_long] == [100, 100, 50]
    with pytest.raises(ValueError, match="overlap_words"):
        chunk_document("x", chunk_words=10, overlap_words=10)


def test_source_pairs_every_chunk_with_every_seed_example(tmp_path):
    doc = "\n\n".join(f"Paragraph {i} " + "word " * 60 for i in range(3))
    src = LabKnowledge("k", path=str(write_leaves(tmp_path, leaf(document=doc))), chunk_words=80)
    rows = list(src.read())
    assert len(rows) == 3 * 5 == src.count()
    assert [(r["chunk_index"], r["seed_index"]) for r in rows[:6]] == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0)]
    first = rows[0]
    assert first["document"].startswith("Paragraph 0") and first["icl_document"] == "Context 0."
    assert (first["icl_query_3"], first["icl_response_3"]) == ("Q0.2?", "A0.2.")
    assert first["domain"] == "biology" and len(list(src.read(limit=4))) == 4


def test_documents_from_files_and_leaf_errors(tmp_path):
    (tmp_path / "doc.md").write_text("From a file.")
    loaded = load_knowledge(write_leaves(tmp_path, leaf(document=None, documents=["doc.md"])))
    assert loaded[0]["documents"] == ["From a file."]
    with pytest.raises(TaxonomyError, match="needs its document"):
        load_knowledge(write_leaves(tmp_path, leaf(document=None)))
    with pytest.raises(TaxonomyError, match="does not exist"):
        load_knowledge(write_leaves(tmp_path, leaf(document=None, documents=["missing.md"])))
    with pytest.raises(TaxonomyError, match="need 5"):
        load_knowledge(write_leaves(tmp_path, leaf(n_seeds=2)))
    assert len(load_knowledge(write_leaves(tmp_path, leaf(n_seeds=2)), min_seed_examples=2)) == 1


def test_instructlab_folder_takes_only_knowledge_qna_files(tmp_path):
    import yaml

    (tmp_path / "knowledge" / "bees").mkdir(parents=True)
    (tmp_path / "knowledge" / "bees" / "qna.yaml").write_text(yaml.safe_dump({**leaf(), "leaf": None}))
    (tmp_path / "skills").mkdir()
    (tmp_path / "skills" / "qna.yaml").write_text(yaml.safe_dump(
        {"task_description": "t", "seed_examples": [{"question": "q", "answer": "a"}] * 3}))
    [only] = load_knowledge(tmp_path)
    assert only["leaf"] == "knowledge/bees"


# -- generation -------------------------------------------------------------------------------------------
def test_qa_pairs_from_tags_labels_and_constrained_json():
    text = "[QUESTION]\nWhat is a drone?\n[ANSWER]\nA male bee.\n[END]\n[QUESTION] [UNANSWERABLE] [ANSWER] x [END]\n" \
           "[QUESTION]\nWhy wax?\n[ANSWER]\nTo build"
    assert parse_qa_pairs(text) == [("What is a drone?", "A male bee."), ("Why wax?", "To build")]
    assert parse_qa_pairs(text, truncated=True) == [("What is a drone?", "A male bee.")]
    assert parse_qa_pairs("Question: Who?\nAnswer: Her.") == [("Who?", "Her.")]
    reply = json.dumps({"pairs": [{"question": "What do workers do?", "answer": "All the work."},
                                  {"question": "What do workers do?", "answer": "Again."}]})
    assert structured_pairs(reply) == [("What do workers do?", "All the work.")]
    assert structured_pairs('{"pairs": [{"question": "Q one?", "answer": "A"}, {"question": "Q tw', truncated=True) == [
        ("Q one?", "A")]
    assert structured_pairs("[QUESTION] not json") == []


def test_generation_asks_for_pairs_where_the_backend_constrains_and_reads_tags_where_not():
    row = {"domain": "biology", "document": "Bees dance.", "document_outline": "", "icl_document": "c",
           **{f"icl_{k}_{i}": f"{k}{i}" for i in (1, 2, 3) for k in ("query", "response")}}
    constrained = ScriptedModel(lambda req: json.dumps({"pairs": [{"question": "How do bees talk?",
                                                                   "answer": "They dance."}]}))
    constrained.supports_json_schema = True
    [out] = run_step(LabGenerateQA("g"), constrained, [row])
    schema = constrained.requests[0].json_schema
    assert schema["properties"]["pairs"]["maxItems"] == MAX_PAIRS
    assert "[DOCUMENT]" in user_text(constrained.requests[0]) and "Bees dance." in user_text(constrained.requests[0])
    assert [(r["question"], r["response"]) for r in out] == [("How do bees talk?", "They dance.")]
    free = ScriptedModel(lambda req: "[QUESTION] Q? [ANSWER] A. [END]")
    free.supports_json_schema = False
    [out] = run_step(LabGenerateQA("g"), free, [row])
    assert free.requests[0].json_schema is None and out[0]["question"] == "Q?"
    with pytest.raises(RowError, match="no \\[QUESTION\\]"):
        run_step(LabGenerateQA("g"), ScriptedModel(lambda req: "Sorry."), [row])


# -- the three judges --------------------------------------------------------------------------------------
ROW = {"document": "Drones are male bees.", "question": "What are drones?", "response": "Male bees."}


def judge_once(step, reply, supports):
    model = ScriptedModel(lambda req: reply)
    model.supports_json_schema = supports
    [out] = run_step(step, model, [ROW])
    return out, model.requests[0]


@pytest.mark.parametrize("step, reply, kept, column, value", [
    (LabFaithfulness("f"), {"explanation": "stated", "score": "YES"}, True, "judgment", "YES"),
    (LabFaithfulness("f"), {"explanation": "not stated", "score": "NO"}, False, "judgment", "NO"),
    (LabRelevancy("r"), {"explanation": "both", "score": 2}, True, "relevancy_score", 2),
    (LabRelevancy("r"), {"explanation": "subject only", "score": 1}, False, "relevancy_score", 1),
    (LabQuestionQuality("q"), {"explanation": "self-contained", "score": 1}, True, "question_rating", 1),
    (LabQuestionQuality("q"), {"explanation": "refers to the text", "score": 0}, False, "question_rating", 0),
])
def test_judges_keep_only_instructlabs_passing_verdict_from_a_constrained_reply(step, reply, kept, column, value):
    out, req = judge_once(step, json.dumps(reply), True)
    assert sorted(req.json_schema["properties"]["score"]["enum"]) == sorted(step.allowed)
    assert list(req.json_schema["properties"]) == ["explanation", "score"]
    if kept:
        assert out[0][column] == value and out[0][step.evaluation_column] == reply["explanation"]
    else:
        assert isinstance(out, Rejected) and out.score is not None


@pytest.mark.parametrize("step, reply, verdict", [
    (LabFaithfulness("f"), "[Start of Explanation] supported [End of Explanation]\n[Start of Answer]\nYES\n[End of Answer]",
     "YES"),
    (LabFaithfulness("f"), "[Start of Answer] NO [End of Answer]", None),
    (LabRelevancy("r"), "[Start of Feedback] fine [End of Feedback]\n[Start of Score]\n2\n[End of Score]", 2),
    (LabRelevancy("r"), "Subject: 1. Focus: 0. Total Score: 1", None),
    (LabQuestionQuality("q"), "[Start of Explanation] ok [End of Explanation]\n[Start of Rating]\n1\n[End of Rating]", 1),
])
def test_judges_read_instructlabs_tagged_format_without_a_schema(step, reply, verdict):
    out, req = judge_once(step, reply, False)
    assert req.json_schema is None
    if verdict is None:
        assert isinstance(out, Rejected)
    else:
        assert out[0][step.score_column] == verdict and out[0][step.evaluation_column]


def test_a_judge_reply_without_a_verdict_is_an_error_row_with_the_text():
    with pytest.raises(RowError, match="no score"):
        judge_once(LabRelevancy("r"), "It is relevant.", False)
    with pytest.raises(ValueError, match="min_score must be one of"):
        LabFaithfulness("f", min_score="MAYBE")


# -- the built-in recipe -----------------------------------------------------------------------------------
def knowledge_script(req):
    text = user_text(req)
    if "educational question and answer pairs" in text:
        chunk = text.split("Here is the document:")[1]
        topic = "waggle" if "waggle" in chunk else "queen"
        pairs = [{"question": f"What is the {topic} fact?", "answer": f"The {topic} answer."},
                 {"question": "Which table shows it?", "answer": "Table 2."}]
        return json.dumps({"pairs": pairs}) if req.json_schema else \
            "".join(f"[QUESTION] {p['question']} [ANSWER] {p['answer']} [END]\n" for p in pairs)
    if "corroborated by the given context" in text:
        return json.dumps({"explanation": "checked", "score": "YES"})
    if "relevance" in text:
        return json.dumps({"explanation": "checked", "score": 2})
    if "Non-referential clarity" in text:
        return json.dumps({"explanation": "checked", "score": 0 if "table" in text.split("[Start of Question]")[1] else 1})
    return "?"


def test_recipe_end_to_end_on_a_scripted_model(tmp_path, scripted_model):
    out = tmp_path / "lab"
    run = run_recipe("lab", out, extra_cli_args=("--model", scripted_model(knowledge_script), "-n", "6"))
    c = run["counts"]
    assert c["chunks"]["out"] == 6 and c["generate"]["out"] == 12
    # the same two questions come from the 5 seed examples of chunk 0 and once more from chunk 1
    assert c["unique_questions"]["out"] == 3
    assert c["faithfulness"]["ok"] == c["relevancy"]["ok"] == 3 and c["question_quality"]["rejected"] == 1
    data = list(read_shards(out / "data"))
    assert sorted(r["question"] for r in data) == ["What is the queen fact?", "What is the waggle fact?"]
    for row in data:
        assert row["relevancy_score"] == 2 and row["question_rating"] == 1 and row["domain"] == "biology"
        assert [e["step"] for e in row["_lineage"]] == ["generate", "faithfulness", "relevancy", "question_quality"]
    [rejected] = [r for r in side_rows(out, "rejected") if r["_rejected_by"] == "question_quality"]
    assert rejected["question"] == "Which table shows it?"


def _verdict_reply(probs: dict[int, float]):
    """A constrained reply, verdict first, whose verdict token carries ``probs`` as its alternatives."""
    sampled = max(probs, key=probs.get)
    head = [TokenLogprob(t, -0.01) for t in ('{"', "score", '":', " ")]
    top = [(str(k), math.log(p)) for k, p in probs.items()]
    token = TokenLogprob(str(sampled), math.log(probs[sampled]), top)
    return Choice(json.dumps({"score": sampled, "explanation": "x"}), "stop", [*head, token, TokenLogprob(",", -0.01)])


def test_calibrated_judge_reads_the_verdict_against_the_judges_bias_on_content_free_inputs():
    def reply(req):
        assert req.logprobs and list(req.json_schema["properties"]) == ["score", "explanation"]
        text = user_text(req)
        if "bees dance" in text:  # the real answer moves the judge from its constant 0 towards 2
            return _verdict_reply({0: 0.80, 1: 0.05, 2: 0.15})
        return _verdict_reply({0: 0.97, 1: 0.02, 2: 0.01})  # "N/A", "" and "[MASK]" everywhere

    model = ScriptedModel(reply)
    model.supports_json_schema = True
    step = LabRelevancy("r", calibrate=True)
    [kept, flat] = run_step(step, model, [{**ROW, "response": "The bees dance to show where food is."},
                                          {**ROW, "response": "Something."}])
    assert len(model.requests) == 3 + 2  # the content-free prior once, then the two answers
    blanked = [user_text(r) for r in model.requests[:3]]
    assert all("bees dance" not in t and ROW["question"] not in t for t in blanked) and "N/A" in blanked[0]
    assert kept[0]["relevancy_score"] == 2 and kept[0]["relevancy_score_probabilities"]["2"] > 0.5
    assert isinstance(flat, Rejected)  # the judge's constant verdict: no label is pushed up
    # greedily (calibrate off) the same judge keeps nothing: its sampled verdict is always 0
    greedy = ScriptedModel(lambda req: json.dumps({"explanation": "x", "score": 0}))
    greedy.supports_json_schema = True
    [out] = run_step(LabRelevancy("r"), greedy, [{**ROW, "response": "The bees dance to show where food is."}])
    assert isinstance(out, Rejected)


def test_calibrate_auto_is_on_only_for_the_embedded_model():
    from types import SimpleNamespace

    from synthloom.curate.judges.calibration import calibrating

    def ctx(spec):
        return SimpleNamespace(models=SimpleNamespace(configs={"default": SimpleNamespace(spec=spec)}))

    assert calibrating("auto", ctx("embedded"), "default") is True
    assert calibrating("auto", ctx("openai:gpt@http://h/v1"), "default") is False
    assert calibrating(True, ctx("openai:gpt@http://h/v1"), "default") is True
    with pytest.raises(ValueError, match="calibrate must be true, false or auto"):
        LabRelevancy("r", calibrate="yes")


def test_judges_off_pass_rows_on_unjudged_and_auto_turns_them_off_only_on_the_embedded_model():
    """InstructLab's simple pipeline (small local teachers) has no judges: ``enabled: false`` passes every row on
    with no model call; ``auto`` judges on a real model and not on the embedded demo model."""
    from types import SimpleNamespace

    from synthloom.testing.scripted import scripted_context

    model = ScriptedModel(lambda req: json.dumps({"explanation": "off topic", "score": 0}))
    model.supports_json_schema = True
    [row] = run_step(LabRelevancy("r", enabled=False, calibrate=True), model, [ROW])
    assert row[0]["relevancy_score"] is None and row[0]["relevancy_feedback"] is None
    assert row[0]["relevancy_score_probabilities"] is None and not model.requests

    def judged(spec):
        step, ctx = LabRelevancy("r", enabled="auto"), scripted_context(model, "r")
        ctx.models.configs = {"default": SimpleNamespace(spec=spec)}
        step.setup(ctx)
        return step.judging

    assert judged("openai:gpt@http://h/v1") is True and judged("embedded") is False
    said = []
    step, ctx = LabRelevancy("r", enabled="auto"), scripted_context(model, "r")
    ctx.models.configs = {"default": SimpleNamespace(spec="embedded")}
    step.setup(ctx)
    step.after_run(Path("."), said.append)  # the end of the run says the judge let everything through
    assert len(said) == 1 and "judged nothing" in said[0] and "embedded demo model" in said[0]
    with pytest.raises(ValueError, match="enabled must be true, false or auto"):
        LabQuestionQuality("q", enabled="sometimes")


@needs_embedded
@pytest.mark.slow
def test_rows_1_on_the_embedded_model_keeps_a_pair_from_the_simple_pipeline(tmp_path):
    """``synthloom run lab --rows 1`` on the embedded model (issue 16): the judges are off there (``judges: auto``),
    so the first chunk's generated pairs are kept, each with its lineage from the generate step only."""
    out = tmp_path / "lab"
    run = run_recipe("lab", out, "max_tokens=200", "chunk_words=150", extra_cli_args=("--rows", "1"))
    data = list(read_shards(out / "data"))
    assert run["status"] == "completed" and data
    for row in data:
        assert row["question"] and row["response"] and row["relevancy_score"] is None and row["question_rating"] is None
        assert [e["step"] for e in row["_lineage"]] == ["generate"]
    assert all(run["counts"][j]["rejected"] == 0 for j in ("faithfulness", "relevancy", "question_quality"))
