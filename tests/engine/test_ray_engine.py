"""The Ray engine on a real local Ray cluster: the same run directory as the local engine."""

from __future__ import annotations

import json
from pathlib import Path

from synthloom import FilterStep, LLMStep, MapStep, Pipeline, RecordsSource, RunOptions, parse_model_spec, run_pipeline
from synthloom.curate.exact_dedup import ExactDedup
from synthloom.io.shards import read_shards


def opts(**kw) -> RunOptions:
    kw.setdefault("progress", "quiet")
    kw.setdefault("log", lambda m: None)
    return RunOptions(**kw)


def rows(out: Path, what: str = "data") -> list[dict]:
    base = out / what
    if not base.exists():
        return []
    if what == "data":
        return list(read_shards(base))
    return [r for sub in sorted(p for p in base.iterdir() if p.is_dir()) for r in read_shards(sub)]


class LongEnough(FilterStep):
    def check(self, record):
        return (len(record["answer"]) > 30, "answer too short", len(record["answer"]))


class Shout(MapStep):
    def map(self, record):
        return {**record, "loud": record["answer"].upper()}


def pipeline(model: str) -> Pipeline:
    src = RecordsSource("seeds", rows=[{"q": f"question {i % 37}" + ("x" * (i % 5))} for i in range(120)])
    answer = LLMStep("answer", prompt=lambda r: f"Answer: {r['q']}", parse=lambda r, resp: {**r, "answer": resp.text},
                     reads=["q"], writes=["answer"], temperature=0.0)
    return Pipeline([src, answer, LongEnough("long_enough", reads=["answer"]),
                     ExactDedup("dedup", columns=["q"]), Shout("shout", reads=["answer"], writes=["loud"])],
                    models={"default": model})


def run_json(out: Path) -> dict:
    return json.loads((out / "run.json").read_text())


def test_ray_run_equals_local_run(tmp_path, fake_model, ray_local):
    local = run_pipeline(pipeline(fake_model), tmp_path / "local", opts(partition_size=16))
    ray_run = run_pipeline(pipeline(fake_model), tmp_path / "ray", opts(partition_size=16, engine="ray"))
    assert local.ok and ray_run.ok
    for what in ("data", "rejected", "errors"):
        assert rows(tmp_path / "ray", what) == rows(tmp_path / "local", what), what
    assert rows(tmp_path / "local", "rejected")  # the filter and the dedup removed rows
    a, b = run_json(tmp_path / "local"), run_json(tmp_path / "ray")
    assert a["counts"] == b["counts"] and a["rows"] == b["rows"]
    assert b["usage"]["total"]["requests"] == a["usage"]["total"]["requests"] == 120


def _answers(n: int, model) -> Pipeline:
    src = RecordsSource("seeds", rows=[{"q": f"question {i}"} for i in range(n)])
    answer = LLMStep("answer", prompt=lambda r: f"Answer: {r['q']}", parse=lambda r, resp: {**r, "answer": resp.text},
                     reads=["q"], writes=["answer"], temperature=0.0)
    return Pipeline([src, answer], models={"default": model})


def test_in_flight_limit_is_one_for_the_whole_cluster(tmp_path, ray_local):
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    with FakeOpenAIServer(FakeServerConfig(latency_s=0.03)) as server:
        model = parse_model_spec(f"openai:fake@{server.url}", name="default", max_in_flight=3)
        res = run_pipeline(_answers(96, model), tmp_path / "out", opts(partition_size=8, engine="ray", ray_workers=2))
        stats = server.stats()
    assert res.ok and res.rows["data"] == 96
    # two workers, each with 8-row partitions and a window of 32 rows: alone they would send up to 2 x 32
    assert 1 <= stats["max_in_flight"] <= 3
    assert stats["max_in_flight"] == 3  # and the permits were used


def test_budget_stops_the_whole_cluster_and_a_rerun_resumes(tmp_path, fake_model, ray_local):
    from synthloom.llm.budget import Budget

    out = tmp_path / "out"
    res = run_pipeline(_answers(200, fake_model), out,
                       opts(partition_size=10, engine="ray", ray_workers=2, budget=Budget(max_requests=50)))
    assert res.status == "stopped: budget reached"
    assert res.usage["total"]["requests"] <= 50
    assert json.loads((out / "run.json").read_text())["status"] == "stopped: budget reached"
    done = res.rows["data"]
    assert 0 < done < 200
    again = run_pipeline(_answers(200, fake_model), out, opts(partition_size=10, engine="ray", ray_workers=2))
    assert again.ok and again.rows["data"] == 200
    assert run_pipeline(_answers(200, fake_model), tmp_path / "local", opts(partition_size=10)).ok
    assert rows(out) == rows(tmp_path / "local")
    # the rerun resumes: committed partitions are not recomputed, answers received but not committed replay
    total = again.usage["total"]
    # (the budget may stop the run on a partition boundary, so there may be no such answers)
    assert total["requests"] + total["cached"] == 200 - done
    assert total["cached"] == res.usage["total"]["requests"] - done


def test_a_local_runs_cache_replays_on_ray_and_back(tmp_path, fake_model, ray_local):
    cache = tmp_path / "cache"
    first = run_pipeline(_answers(40, fake_model), tmp_path / "local", opts(partition_size=8, cache_dir=cache))
    assert first.usage["total"]["requests"] == 40
    on_ray = run_pipeline(_answers(60, fake_model), tmp_path / "ray", opts(partition_size=8, cache_dir=cache, engine="ray"))
    assert on_ray.usage["total"]["cached"] == 40 and on_ray.usage["total"]["requests"] == 20
    back = run_pipeline(_answers(60, fake_model), tmp_path / "local2", opts(partition_size=8, cache_dir=cache))
    assert back.usage["total"]["cached"] == 60 and back.usage["total"]["requests"] == 0
    assert rows(tmp_path / "ray") == rows(tmp_path / "local2")


def test_429s_on_the_cluster_are_retried_and_rows_equal_local(tmp_path, ray_local):
    from synthloom.testing.fake_server import FakeOpenAIServer, FakeServerConfig

    with FakeOpenAIServer(FakeServerConfig(fault="429", fault_every=5, retry_after_s=0.05)) as server:
        model = parse_model_spec(f"openai:fake@{server.url}", name="default", max_in_flight=8, backoff_base_s=0.01)
        res = run_pipeline(_answers(60, model), tmp_path / "ray", opts(partition_size=10, engine="ray"))
        local = run_pipeline(_answers(60, model), tmp_path / "local", opts(partition_size=10, use_cache=False))
    assert res.ok and local.ok and res.rows["errors"] == 0
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
