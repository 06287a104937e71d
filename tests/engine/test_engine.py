"""The local engine end to end on the Python API, against the loopback fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom import (
    FilterStep,
    LLMStep,
    LoopStep,
    MapStep,
    Pipeline,
    RecordsSource,
    Rejected,
    RunOptions,
    run_pipeline,
)
from synthloom.curate.exact_dedup import ExactDedup
from synthloom.io.shards import read_shards
from synthloom.records import derive_id
from synthloom.steps.join import KeyJoin


def opts(**kw) -> RunOptions:
    kw.setdefault("progress", "quiet")
    kw.setdefault("log", lambda m: None)
    return RunOptions(**kw)


def rows(out: Path, what: str = "data") -> list[dict]:
    base = out / what
    if what == "data":
        return list(read_shards(base))
    return [r for sub in sorted(p for p in base.iterdir() if p.is_dir()) for r in read_shards(sub)]


def answer_step(name="answer", **kw) -> LLMStep:
    return LLMStep(name, prompt=lambda r: f"Answer: {r['q']}", parse=lambda r, resp: {**r, name: resp.text},
                   reads=["q"], writes=[name], **kw)


class LongEnough(FilterStep):
    def check(self, record):
        return (len(record["answer"]) > 18, "answer too short", len(record["answer"]))


def test_chain_ids_lineage_and_accounting(tmp_path, fake_model):
    src = RecordsSource("seeds", rows=[{"q": f"question {i}" + ("x" * (i % 3))} for i in range(50)])
    pipe = Pipeline([src, answer_step(temperature=0.0), LongEnough("long_enough", reads=["answer"])],
                    models={"default": fake_model})
    res = run_pipeline(pipe, tmp_path / "out", opts(partition_size=8))
    assert res.ok
    data = rows(tmp_path / "out")
    rejected = rows(tmp_path / "out", "rejected")
    assert len(data) + len(rejected) == 50
    assert all(r["answer"].startswith("Reply to: Answer: question") for r in data)
    # ids: source record i gets derive_id("", "seeds", i); maps and filters keep it
    expected_ids = [derive_id("", "seeds", i) for i in range(50)]
    assert sorted(r["id"] for r in data + rejected) == sorted(expected_ids)
    assert [r["id"] for r in data] == [i for i in expected_ids if i in {r["id"] for r in data}]  # input order kept
    lineage = data[0]["_lineage"][0]
    assert lineage["step"] == "answer" and lineage["model"].startswith("openai:fake@")
    assert len(lineage["prompt_hash"]) == 16 and lineage["usage"]["completion_tokens"] > 0
    assert lineage["params"] == {"temperature": 0.0}
    for r in rejected:
        assert r["_rejected_by"] == "long_enough" and r["_reason"] == "answer too short" and r["_score"] == len(r["answer"])
    for step, c in res.counts.items():
        assert c.balanced, step
    assert res.counts["long_enough"].rejected == len(rejected)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["status"] == "completed" and run["counts"]["answer"]["in"] == 50
    assert run["usage"]["total"]["requests"] == 50
    card = (tmp_path / "out" / "card.md").read_text()
    assert "| long_enough | filter | 50 |" in card


def test_n_samples_expand_with_derived_ids(tmp_path, fake_model):
    src = RecordsSource("seeds", rows=[{"q": "a"}, {"q": "b"}])
    step = LLMStep("sample", prompt=lambda r: r["q"], n=3, temperature=0.9, reads=["q"])
    res = run_pipeline(Pipeline([src, step], models={"default": fake_model}), tmp_path / "o", opts())
    data = rows(tmp_path / "o")
    assert len(data) == 6 and res.counts["sample"].rows_out == 6 and res.counts["sample"].ok == 2
    parent = derive_id("", "seeds", 0)
    assert [r["id"] for r in data[:3]] == [derive_id(parent, "sample", j) for j in range(3)]
    assert data[0]["_lineage"][0]["parent"] == parent
    assert len({r["response"] for r in data[:3]}) == 3  # distinct choices
    # a per-record seed was derived, so the two records are distinct reproducible requests
    seeds = {r["_lineage"][0]["params"]["seed"] for r in data}
    assert len(seeds) == 2


def test_branch_and_join_by_key(tmp_path, fake_model):
    src = RecordsSource("seeds", rows=[{"q": f"q{i}", "key": i} for i in range(20)])
    left = answer_step("answer", temperature=0.0)
    right = LLMStep("critique", prompt=lambda r: f"Critique {r['q']}", parse=lambda r, resp: {"key": r["key"], "critique": resp.text},
                    reads=["q", "key"], writes=["critique"], inputs=["seeds"], temperature=0.0)
    left.inputs = ["seeds"]
    join = KeyJoin("both", inputs=["answer", "critique"], on="key")
    pipe = Pipeline([src, left, right, join], models={"default": fake_model})
    res = run_pipeline(pipe, tmp_path / "o", opts(partition_size=6))
    data = rows(tmp_path / "o")
    assert len(data) == 20 and res.ok
    assert all(r["critique"] == f"Reply to: Critique {r['q']}" and r["answer"] == f"Reply to: Answer: {r['q']}" for r in data)
    assert sorted(r["key"] for r in data) == list(range(20))  # every key once
    assert {r["id"] for r in data} == {derive_id("", "seeds", i) for i in range(20)}  # the left rows' ids


def test_global_dedup_names_the_survivor(tmp_path, fake_model):
    texts = ["Hello  World", "hello world", "other", "HELLO WORLD ", "other", "third"]
    src = RecordsSource("seeds", rows=[{"text": t} for t in texts])
    pipe = Pipeline([src, ExactDedup("dedup", columns=["text"])], models={"default": fake_model})
    res = run_pipeline(pipe, tmp_path / "o", opts(partition_size=2))
    data, rej = rows(tmp_path / "o"), rows(tmp_path / "o", "rejected")
    assert [r["text"] for r in data] == ["Hello  World", "other", "third"]
    first = data[0]["id"]
    assert sorted(r["_duplicate_of"] for r in rej) == sorted([first, first, data[1]["id"]])
    assert res.counts["dedup"].rejected == 3 and res.counts["dedup"].balanced


class Grow(MapStep):
    def map(self, record):
        return {**record, "text": record["text"] + "+"}


class NoLongerThan(FilterStep):
    def check(self, record):
        return len(record["text"]) <= 6 or Rejected("too long", len(record["text"]))


def test_loop_until_and_rejection_inside(tmp_path, fake_model):
    src = RecordsSource("seeds", rows=[{"text": "a"}, {"text": "abcd"}])
    loop = LoopStep("grow", [Grow("g", reads=["text"], writes=["text"]), NoLongerThan("cap", reads=["text"])],
                    until=lambda r: len(r["text"]) >= 3, max_rounds=5)
    res = run_pipeline(Pipeline([src, loop], models={"default": fake_model}), tmp_path / "o", opts())
    data, rej = rows(tmp_path / "o"), rows(tmp_path / "o", "rejected")
    # a -> a+ -> a++ (stops at length 3 after round 2); abcd -> abcd+ (round 1)
    assert [(r["text"], r["rounds"]) for r in data] == [("a++", 2), ("abcd+", 1)]
    assert len(rej) == 0 and res.counts["grow"].ok == 2
    res2 = run_pipeline(Pipeline([RecordsSource("seeds", rows=[{"text": "abcdef"}]), loop], models={"default": fake_model}),
                        tmp_path / "o2", opts())
    assert rows(tmp_path / "o2", "rejected")[0]["_reason"] == "cap: too long (round 1)"
    assert res2.counts["grow"].rejected == 1


def test_parse_failure_becomes_error_row_with_raw_text(tmp_path, fake_model):
    def parse(record, resp):
        if record["q"] == "bad":
            raise ValueError("no number in reply")
        return {**record, "answer": resp.text}

    src = RecordsSource("seeds", rows=[{"q": "good"}, {"q": "bad"}])
    step = LLMStep("answer", prompt=lambda r: r["q"], parse=parse, reads=["q"], writes=["answer"], temperature=0.0)
    res = run_pipeline(Pipeline([src, step], models={"default": fake_model}), tmp_path / "o", opts())
    errors = rows(tmp_path / "o", "errors")
    assert len(errors) == 1 and res.counts["answer"].errors == 1 and res.counts["answer"].balanced
    e = errors[0]
    assert e["_step"] == "answer" and "no number in reply" in e["_error"] and e["_raw_text"] == "Reply to: bad"
    assert json.loads(e["_record"]) == {"q": "bad"}
    assert res.ok and res.rows == {"data": 1, "rejected": 0, "errors": 1}


def test_rerun_resumes_and_changed_recipe_reuses_cache(tmp_path, fake_model, fake_server):
    src = RecordsSource("seeds", rows=[{"q": f"q{i}"} for i in range(30)])
    out = tmp_path / "o"
    first = run_pipeline(Pipeline([src, answer_step(temperature=0.0)], models={"default": fake_model}), out, opts(partition_size=7))
    assert first.usage["total"]["requests"] == 30
    again = run_pipeline(Pipeline([src, answer_step(temperature=0.0)], models={"default": fake_model}), out, opts(partition_size=7))
    assert again.resumed_partitions == 5 and again.usage["total"]["requests"] == 0 and again.usage["total"]["cached"] == 0
    # a changed step (new parse, same requests) recomputes everything from the cache
    changed = LLMStep("answer", prompt=lambda r: f"Answer: {r['q']}", parse=lambda r, resp: {**r, "answer": resp.text.upper()},
                      reads=["q"], writes=["answer"], temperature=0.0, reject_truncated=True)
    third = run_pipeline(Pipeline([src, changed], models={"default": fake_model}), out, opts(partition_size=7))
    assert third.usage["total"]["requests"] == 0 and third.usage["total"]["cached"] == 30
    assert all(r["answer"].startswith("REPLY TO") for r in rows(out))
    # --fresh starts over but keeps the cache
    fresh = run_pipeline(Pipeline([src, changed], models={"default": fake_model}), out, opts(partition_size=7, fresh=True))
    assert fresh.usage["total"]["cached"] == 30 and len(rows(out)) == 30
    # --no-cache asks the model again
    nocache = run_pipeline(Pipeline([src, changed], models={"default": fake_model}), out,
                           opts(partition_size=7, fresh=True, use_cache=False))
    assert nocache.usage["total"]["requests"] == 30


def test_budget_stop_then_resume_matches_uninterrupted(tmp_path, fake_model):
    from synthloom.llm.budget import Budget

    src = RecordsSource("seeds", rows=[{"q": f"q{i}"} for i in range(40)])
    pipe = lambda: Pipeline([src, answer_step(temperature=0.0)], models={"default": fake_model})
    ref = run_pipeline(pipe(), tmp_path / "ref", opts(partition_size=5))
    out = tmp_path / "o"
    stopped = run_pipeline(pipe(), out, opts(partition_size=5, budget=Budget(max_requests=12)))
    assert stopped.status == "stopped: budget reached" and "resume" in stopped.message
    assert json.loads((out / "run.json").read_text())["status"] == "stopped: budget reached"
    assert len(rows(out)) < 40
    done = run_pipeline(pipe(), out, opts(partition_size=5))
    assert done.ok and rows(out) == rows(tmp_path / "ref")
    assert done.counts["answer"].to_dict() == ref.counts["answer"].to_dict()


def test_model_server_down_is_reported_before_anything_is_written(tmp_path):
    from synthloom.llm.spec import ModelSpecError

    src = RecordsSource("seeds", rows=[{"q": "x"}])
    pipe = Pipeline([src, answer_step()], models={"default": "openai:m@http://127.0.0.1:9/v1"})
    with pytest.raises(ModelSpecError, match=r"could not connect to http://127.0.0.1:9/v1.*is the server running"):
        run_pipeline(pipe, tmp_path / "o", opts())
    assert not (tmp_path / "o").exists()


def test_model_failing_in_a_row_stops_the_run_and_rerun_resumes(tmp_path, monkeypatch):
    from synthloom.llm.spec import parse_model_spec
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    src = RecordsSource("seeds", rows=[{"q": f"q{i}"} for i in range(60)])
    with FakeOpenAIServer(FakeServerConfig(api_key="right-key")) as server:
        def pipe():
            cfg = parse_model_spec(f"openai:fake@{server.url}", name="default", api_key_env="SL_TEST_KEY", max_in_flight=4)
            return Pipeline([src, answer_step(temperature=0.0)], models={"default": cfg})

        monkeypatch.setenv("SL_TEST_KEY", "wrong-key")
        stopped = run_pipeline(pipe(), tmp_path / "o", opts(partition_size=10))
        assert stopped.status == "stopped: model failing" and "Incorrect API key" in stopped.message
        assert stopped.rows["data"] == 0
        monkeypatch.setenv("SL_TEST_KEY", "right-key")
        done = run_pipeline(pipe(), tmp_path / "o", opts(partition_size=10))
        assert done.ok and done.rows == {"data": 60, "rejected": 0, "errors": 0}


def test_bad_line_deep_in_the_input_stops_cleanly_and_rerun_resumes(tmp_path, fake_model):
    from synthloom import LoadStep

    good = [json.dumps({"q": f"q{i}"}) for i in range(3000)]
    path = tmp_path / "in.jsonl"  # the bad line lies past the first read batch: found mid-run, not by validation
    path.write_text("\n".join(good[:2500] + ["{not json"] + good[2500:]) + "\n")
    pipe = lambda: Pipeline([LoadStep("seeds", path=str(path)), answer_step(temperature=0.0)], models={"default": fake_model})
    out = tmp_path / "o"
    res = run_pipeline(pipe(), out, opts(partition_size=500))
    assert res.status == "failed: bad input" and "in.jsonl:2501" in res.message
    assert json.loads((out / "run.json").read_text())["status"] == "failed: bad input"
    assert 0 < len(rows(out)) <= 2500 and len(rows(out)) % 500 == 0  # whole partitions before the bad line
    path.write_text("\n".join(good) + "\n")
    done = run_pipeline(pipe(), out, opts(partition_size=500))
    assert done.ok and len(rows(out)) == 3000
