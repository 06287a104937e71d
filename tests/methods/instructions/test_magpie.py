"""Magpie: templates and their detection, the GGUF metadata reader, the query checks, the steps on
a scripted model, the tagging/neighbour/filter steps, and an end-to-end run."""

from __future__ import annotations

import asyncio
import math
import struct

import numpy as np
import pytest

from synthloom.io.shards import read_shards
from synthloom.llm.spec import parse_model_spec
from synthloom.llm.types import Choice, Request, Response, TokenLogprob, Usage
from synthloom.methods.instructions.magpie import (
    MagpieInstruction,
    MagpieResponse,
    MagpieSlots,
    MagpieTurns,
    instruction_reason,
)
from synthloom.methods.instructions.magpie_tagging import (
    QUALITY,
    MagpieFilter,
    MagpieLanguage,
    MagpieTag,
    calibrated,
    label_distribution,
    near_duplicates,
    nearest_neighbors,
    tag_language,
)
from synthloom.methods.instructions.magpie_templates import (
    SYSTEM_PROMPTS,
    TEMPLATES,
    detect_template,
    read_gguf_metadata,
    template_from_chat_template,
    template_from_model_name,
)
from synthloom.pipeline.context import StepContext
from synthloom.pipeline.step import Rejected
from synthloom.testing.recipe_runs import needs_embedded, run_recipe, side_rows
from synthloom.testing.scripted import ScriptedModel, run_step, user_text

CHATML_JINJA = ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n'}}"
                "{% endfor %}{% if add_generation_prompt %}{{'<|im_start|>assistant\n'}}{% endif %}")
ODD_JINJA = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}### Human: {{ m['content'] }}\n"
             "{% else %}### Bot: {{ m['content'] }}{{ eos_token }}\n{% endif %}{% endfor %}"
             "{% if add_generation_prompt %}### Bot:{% endif %}")


def test_pre_query_templates_of_the_paper():
    assert TEMPLATES["llama3"].pre_query() == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
    assert TEMPLATES["qwen2"].pre_query() == TEMPLATES["chatml"].pre_query() == "<|im_start|>user\n"
    assert TEMPLATES["gemma"].pre_query() == "<bos><start_of_turn>user\n"
    assert TEMPLATES["phi3"].pre_query() == "<s><|user|>\n"
    assert TEMPLATES["mistral"].pre_query() == "<s>[INST] "
    assert TEMPLATES["deepseek"].pre_query() == "<｜begin▁of▁sentence｜>User: "
    assert "<|eot_id|>" in TEMPLATES["llama3"].stop and "<|im_end|>" in TEMPLATES["chatml"].stop


def test_system_steering_and_multi_turn_prefix():
    t = TEMPLATES["chatml"]
    assert t.pre_query("Be a math tutor.") == "<|im_start|>system\nBe a math tutor.<|im_end|>\n<|im_start|>user\n"
    assert t.conversation([("hi", "hello")]) == ("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello"
                                                 "<|im_end|>\n<|im_start|>user\n")
    # formats without a system turn put the system prompt at the start of the first user message
    assert TEMPLATES["gemma"].pre_query("SYS") == "<bos><start_of_turn>user\nSYS\n\n"
    assert TEMPLATES["gemma"].conversation([("q", "a")], "SYS").count("SYS") == 1
    assert set(SYSTEM_PROMPTS) == {"general", "math", "code", "translation"}


@pytest.mark.parametrize("source, name", [
    ("...<|start_header_id|>user<|end_header_id|>...", "llama3"), (CHATML_JINJA, "chatml"),
    ("<start_of_turn>user", "gemma"), ("<|user|>\n{{c}}<|end|>", "phi3"), ("[INST] {{c}} [/INST]", "mistral"),
    ("<｜begin▁of▁sentence｜>User: {{c}}", "deepseek"), ("<｜User｜>{{c}}<｜Assistant｜>", "deepseek3"),
    (ODD_JINJA, None),
])
def test_detect_template(source, name):
    assert detect_template(source) == name


def test_unknown_chat_template_is_cut_at_a_sentinel():
    t = template_from_chat_template(ODD_JINJA, "<s>", "</s>")
    assert t.pre_query() == "<s>### Human: "
    assert t.conversation([("q", "a")]) == "<s>### Human: q\n### Bot: a</s>\n### Human: "
    assert t.stop[0] == "### Bot:" and "</s>" in t.stop


@pytest.mark.parametrize("model, name", [("meta-llama/Meta-Llama-3.1-8B-Instruct", "llama3"),
                                         ("Qwen/Qwen2.5-7B-Instruct", "chatml"), ("google/gemma-2-9b-it", "gemma"),
                                         ("mistralai/Mistral-7B-Instruct-v0.3", "mistral"), ("gpt-4o", None)])
def test_template_from_model_name(model, name):
    assert template_from_model_name(model) == name


def _gguf(path, kv):
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    body = b""
    for key, (vtype, value) in kv.items():
        body += s(key) + struct.pack("<I", vtype)
        if vtype == 8:
            body += s(value)
        elif vtype == 4:
            body += struct.pack("<I", value)
        elif vtype == 9:
            body += struct.pack("<IQ", 8, len(value)) + b"".join(s(v) for v in value)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)) + body)
    return path


def test_read_gguf_metadata(tmp_path):
    p = _gguf(tmp_path / "m.gguf", {"general.name": (8, "tiny"), "tokenizer.ggml.tokens": (9, ["<s>", "</s>", "a"]),
                                     "tokenizer.ggml.bos_token_id": (4, 0), "tokenizer.chat_template": (8, ODD_JINJA)})
    meta = read_gguf_metadata(str(p), {"tokenizer.chat_template", "tokenizer.ggml.bos_token_id"})
    assert meta == {"tokenizer.chat_template": ODD_JINJA, "tokenizer.ggml.bos_token_id": 0}
    from synthloom.methods.instructions.magpie_templates import gguf_magpie_template

    assert gguf_magpie_template(str(p)).pre_query() == "<s>### Human: "
    (tmp_path / "x.gguf").write_bytes(b"nope")
    with pytest.raises(ValueError, match="not a GGUF file"):
        read_gguf_metadata(str(tmp_path / "x.gguf"))


@pytest.mark.parametrize("text, finish, name", [
    ("", "stop", "empty"), ("What is the capital of Peru?", "length", "truncated"), ("Hi there", "stop", "too_short"),
    ("Here is my essay:", "stop", "trailing_colon"), ("What is the capital of Peru?", "stop", None)])
def test_instruction_checks(text, finish, name):
    reason = instruction_reason(text, finish, 3)
    assert (reason.split(":")[0] if reason else None) == name


def test_slots_cycle_system_prompts_and_honour_the_limit():
    rows = list(MagpieSlots("slots", num_rows=5, systems=["math", "Talk like a pirate."]).read(limit=3))
    assert [r["magpie_index"] for r in rows] == [0, 1, 2]
    assert rows[0]["magpie_system"] == SYSTEM_PROMPTS["math"] and rows[1]["magpie_system"] == "Talk like a pirate."
    with pytest.raises(ValueError):
        MagpieSlots("s", system="math", systems=["code"])


class Models:
    def __init__(self, model, config):
        self.model, self.configs = model, {"default": config}

    def get(self, name):
        return self.model


class Scripted:
    identity = "scripted"

    def __init__(self, texts):
        self.texts, self.requests = list(texts), []

    async def complete(self, request: Request) -> Response:
        self.requests.append(request)
        return Response([Choice(self.texts.pop(0), "stop")], Usage(3, 3))


def _setup(step, model, spec="openai:Qwen2-7B-Instruct@http://127.0.0.1:9/v1"):
    step.setup(StepContext(step=step.name, models=Models(model, parse_model_spec(spec, name="default"))))
    return step


def test_instruction_step_sends_a_raw_pre_query_with_stops():
    model = Scripted(["  What are three uses of graphene?  ", "Explain:"])
    step = _setup(MagpieInstruction("ins"), model)
    req = step.build_request({"id": "a", "magpie_system": ""})
    assert req.prompt == "<|im_start|>user\n" and req.messages is None
    assert "<|im_end|>" in req.stop and "\n" in req.stop and req.temperature == 1.0 and req.top_p == 1.0
    assert req.seed is not None
    out = asyncio.run(step.process({"id": "a", "magpie_system": ""}))
    assert out[0]["instruction"] == "What are three uses of graphene?" and out[0]["pre_query_template"] == "chatml"
    rec = {"id": "b", "magpie_system": ""}
    verdict = asyncio.run(step.process(rec))
    assert isinstance(verdict, Rejected) and rec["rejected_filter"] == "too_short"


def test_named_template_and_undetectable_server():
    step = _setup(MagpieInstruction("ins", template="llama3", stop_at_newline=False), Scripted([]))
    req = step.build_request({"id": "a", "magpie_system": SYSTEM_PROMPTS["code"]})
    assert req.prompt.startswith("<|begin_of_text|><|start_header_id|>system") and "\n" not in req.stop
    odd = _setup(MagpieInstruction("ins"), Scripted([]), spec="openai:gpt-4o@http://127.0.0.1:9/v1")
    with pytest.raises(Exception, match="set the step's `template:`"):
        odd.build_request({"id": "a", "magpie_system": ""})
    with pytest.raises(ValueError, match="unknown template"):
        MagpieInstruction("x", template="llama9")


def test_response_step_uses_chat_with_the_steering_system_prompt():
    step = MagpieResponse("resp")
    msgs = step.prompt({"instruction": "Solve x+1=2", "magpie_system": "MATH"})
    assert msgs == [{"role": "system", "content": "MATH"}, {"role": "user", "content": "Solve x+1=2"}]
    assert isinstance(step.parse({}, Response([Choice("  ")])), Rejected)


def test_multi_turn_extends_the_conversation_and_stops_on_a_bad_query():
    model = Scripted(["And how far is it from Lima?", "About 1,000 km.", ""])
    step = _setup(MagpieTurns("mt", turns=3), model)
    (row,) = asyncio.run(step.process({"id": "r", "instruction": "Where is Cusco?", "response": "In Peru.",
                                       "magpie_system": ""}))
    assert row["num_turns"] == 2 and row["turns_stopped"].startswith("turn 3: empty")
    assert [m["role"] for m in row["conversation"]] == ["user", "assistant", "user", "assistant"]
    assert model.requests[0].prompt.endswith("In Peru.<|im_end|>\n<|im_start|>user\n")
    assert model.requests[1].messages[-1] == {"role": "user", "content": "And how far is it from Lima?"}
    assert [e["call"] for e in row["_lineage"]] == ["query", "response", "query"]
    assert [e["turn"] for e in row["_lineage"]] == [2, 2, 3] and all(e["step"] == "mt" for e in row["_lineage"])
    query, answer, query3 = model.requests
    assert query.temperature == 1.0 and query.seed is not None and query.seed != query3.seed  # a seed per turn
    assert answer.temperature == 0.0 and answer.seed is None and answer.max_tokens == 1024  # greedy answers


def test_tag_step_schema_and_columns():
    step = MagpieTag("q", task="quality")
    req = step.prompt({"instruction": "Tell me about Mars."})
    assert req.json_schema["properties"]["input_quality"]["enum"][-1] == "excellent"
    assert "Tell me about Mars." in req.messages[0]["content"]
    resp = Response([Choice("{}")])
    resp.parsed = {"explanation": "clear", "input_quality": "good"}
    assert step.parse({"instruction": "x"}, resp) == {"instruction": "x", "quality_explanation": "clear",
                                                      "input_quality": "good", "input_quality_probabilities": None}
    assert set(MagpieTag("c", task="category").writes) == {"task_category", "other_task_categories",
                                                          "task_category_probabilities"}
    with pytest.raises(ValueError):
        MagpieTag("x", task="vibes")


def test_nearest_neighbors_and_greedy_near_duplicates():
    v = np.array([[1, 0], [0.995, 0.0998749], [0, 1], [-1, 0]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    dist, idx = nearest_neighbors(v, block=3)
    assert list(idx) == [1, 0, 1, 1] or list(idx[:2]) == [1, 0]
    assert dist[0] == pytest.approx(np.sqrt(2 - 2 * float(v[0] @ v[1])), abs=1e-5)
    assert near_duplicates(v, 0.2, block=2) == {1: 0}
    assert near_duplicates(v, 0.01) == {}
    single, _ = nearest_neighbors(v[:1])
    assert np.isinf(single[0])


@pytest.mark.parametrize("record, rule", [
    ({"instruction": "Describe:", "input_quality": "excellent"}, "trailing_colon"),
    ({"instruction": "Describe Mars.", "input_quality": "average"}, "input_quality"),
    ({"instruction": "Describe Mars.", "input_quality": None}, "input_quality"),
    ({"instruction": "Describe Mars.", "input_quality": "good", "difficulty": "easy"}, "difficulty"),
    ({"instruction": "Describe Mars.", "input_quality": "good", "difficulty": "hard", "min_neighbor_distance": 0.01},
     "min_neighbor_distance"),
    ({"instruction": "Describe Mars.", "input_quality": "good", "difficulty": "hard", "min_neighbor_distance": 0.5},
     None),
])
def test_filter_rules(record, rule):
    f = MagpieFilter("keep", difficulties=["hard", "very hard"], min_neighbor_distance=0.05)
    verdict = f.check(dict(record))
    assert (verdict.reason.split(":")[0] if isinstance(verdict, Rejected) else None) == rule


def test_filter_rejects_bad_options():
    with pytest.raises(ValueError, match="min_quality"):
        MagpieFilter("k", min_quality="great")
    with pytest.raises(ValueError, match="categories"):
        MagpieFilter("k", categories=["Cooking"])


@pytest.mark.parametrize("text, code", [
    ("How do I bake sourdough bread at home with a starter?", "en"),
    ("Wie kann ich zu Hause ein Brot mit Sauerteig backen und wie lange dauert das?", "de"),
    ("¿Cómo puedo hacer pan de masa madre en casa y cuánto tiempo se necesita?", "es"),
    ("如何在家里制作酸面包？", "zh"), ("自宅でパンを焼くにはどうすればいいですか？", "ja"),
    ("Как испечь хлеб на закваске дома?", "ru"), ("12345 !!!", None), ("Xyzzy plugh frobozz.", None),
])
def test_language_tag(text, code):
    assert tag_language(text) == code
    [out] = asyncio.run(MagpieLanguage("lang").process({"instruction": text}))
    assert out["language"] == code


def test_safety_tag_reads_the_response_and_names_the_hazard_categories():
    step = MagpieTag("s", task="safety")
    assert step.reads == {"instruction", "response"}
    assert set(step.writes) == {"safety", "safety_categories", "safety_probabilities"}
    req = step.prompt({"instruction": "How do I pick a lock?", "response": "Use a tension wrench."})
    text = req.messages[0]["content"]
    assert "User: How do I pick a lock?" in text and "Assistant: Use a tension wrench." in text
    assert "S2: Non-Violent Crimes" in text and "S11: Sexual Content" in text
    assert req.json_schema["properties"]["safety"]["enum"] == ["safe", "unsafe"]
    resp = Response([Choice("{}")])
    resp.parsed = {"safety": "unsafe", "categories": ["S2"]}
    assert step.parse({"instruction": "x"}, resp) == {"instruction": "x", "safety": "unsafe", "safety_categories": ["S2"],
                                                      "safety_probabilities": None}


@pytest.mark.parametrize("record, rule", [
    ({"language": "de", "safety": "safe", "reward": 4.0}, "language"),
    ({"language": None, "safety": "safe", "reward": 4.0}, "language"),
    ({"language": "en", "safety": "unsafe", "safety_categories": ["S9"], "reward": 4.0}, "safety"),
    ({"language": "en", "safety": "safe", "reward": 1.4}, "reward"),
    ({"language": "en", "safety": "safe", "reward": None}, "reward"),
    ({"language": "en", "safety": "safe", "reward": 2.0}, None),
])
def test_filter_language_safety_and_reward(record, rule):
    f = MagpieFilter("keep", min_quality=None, languages=["en"], safe_only=True, min_reward=2)
    assert f.reads == {"instruction", "language", "safety", "reward"}
    verdict = f.check({"instruction": "Describe Mars.", **record})
    assert (verdict.reason.split(":")[0] if isinstance(verdict, Rejected) else None) == rule
    if rule == "safety":
        assert "S9" in verdict.reason
    assert MagpieFilter("keep").reads == {"instruction", "input_quality"}  # off by default


def test_recipe_tags_language_safety_and_reward_on_a_scripted_model(tmp_path, scripted_model):
    def reply(req):
        text = req.prompt if req.prompt is not None else req.messages[-1]["content"]
        if req.prompt is not None:  # the pre-query completion
            return "Explain how tides work in simple words." if req.seed % 2 else "Erkläre, wie die Gezeiten funktionieren."
        if "unsafe content" in text:
            return '{"safety": "safe", "categories": []}'
        if "Rate how well the response" in text:
            return '{"score": 4}'
        if "input_quality" in text:
            return '{"explanation": "clear", "input_quality": "good"}'
        if "difficulty" in text and "intent" in text:
            return '{"intent": "learn", "knowledge": "tides", "difficulty": "easy"}'
        if "primary_tag" in text:
            return '{"primary_tag": "Information seeking", "other_tags": []}'
        return "The Moon's gravity pulls the oceans, making them rise and fall twice a day."
    out = tmp_path / "magpie"
    run = run_recipe("magpie", out, "steps.instruction.template=chatml", "dedup_distance=null",
                     extra_cli_args=("--model", scripted_model(reply), "-n", "6"))
    counts = run["counts"]
    assert counts["language"]["out"] == counts["reward"]["in"] == counts["instruction"]["ok"]
    data = list(read_shards(out / "data"))
    assert data and all(r["language"] == "en" and r["safety"] == "safe" and r["reward"] == 4.0 for r in data)
    german = [r for r in side_rows(out, "rejected") if r["_rejected_by"] == "keep"]
    assert german and all(r["_reason"].startswith("language: 'de'") for r in german)
    assert len(data) + len(german) == counts["instruction"]["ok"]


# -- end to end ----------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_embedded
def test_magpie_recipe_end_to_end(tmp_path):

    out = tmp_path / "magpie"
    run = run_recipe("magpie", out, "steps.instruction.max_tokens=96", "steps.response.max_tokens=32", "tag_max_tokens=160",
                     "steps.keep.min_quality=null", extra_cli_args=("-n", "4"))
    assert run["status"] == "completed"
    counts = run["counts"]
    assert counts["slots"]["out"] == 4 and counts["instruction"]["in"] == 4
    data = list(read_shards(out / "data"))
    for row in data:
        assert set(row) == {"id", "_lineage", "instruction", "response", "language", "input_quality", "difficulty",
                            "task_category", "safety", "reward", "min_neighbor_distance", "pre_query_template",
                            "input_quality_probabilities"}
        assert row["pre_query_template"] == "chatml"  # SmolLM2's GGUF template is ChatML
        # calibrate_quality: auto calibrates the quality label on the embedded model
        probs = row["input_quality_probabilities"]
        assert set(probs) == {"very poor", "poor", "average", "good", "excellent"}
        assert row["input_quality"] == max(probs, key=probs.get) and abs(sum(probs.values()) - 1) < 0.01
        assert row["language"] == "en" and row["safety"] == "safe" and row["reward"] >= 2
        assert [e["step"] for e in row["_lineage"]] == ["instruction", "response", "quality", "difficulty", "category",
                                                        "safety", "reward"]
        assert row["_lineage"][0]["params"]["temperature"] == 1.0
    rejected = side_rows(out, "rejected")
    for r in rejected:
        assert r["_rejected_by"] in ("instruction", "response", "neighbors", "keep") and r["_reason"]
        if r["_rejected_by"] == "instruction":
            assert r["_reason"].startswith(r["rejected_filter"] + ":") and r["pre_query_template"] == "chatml"
    assert len(data) + len(rejected) + run["rows"]["errors"] == 4


SMOL_LIKE_JINJA = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                   "{{ '<|im_start|>system\nYou are a helpful AI assistant named Smol.<|im_end|>\n' }}{% endif %}"
                   "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
                   "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def test_a_chatml_models_default_system_turn_is_part_of_its_pre_query(tmp_path):
    # Magpie's Qwen configs: the pre-query template is what the model's template writes before the first user
    # message, its default system prompt included (SmolLM2's GGUF template adds one too)
    from synthloom.methods.instructions.magpie_templates import gguf_magpie_template

    p = _gguf(tmp_path / "m.gguf", {"tokenizer.ggml.tokens": (9, ["<s>", "</s>"]), "tokenizer.chat_template": (8, SMOL_LIKE_JINJA)})
    t = gguf_magpie_template(str(p))
    assert t.name == "chatml" and t.default_system == "You are a helpful AI assistant named Smol."
    assert t.pre_query() == "<|im_start|>system\nYou are a helpful AI assistant named Smol.<|im_end|>\n<|im_start|>user\n"
    assert t.pre_query("Be a math tutor.") == "<|im_start|>system\nBe a math tutor.<|im_end|>\n<|im_start|>user\n"
    plain = _gguf(tmp_path / "plain.gguf", {"tokenizer.ggml.tokens": (9, ["<s>"]), "tokenizer.chat_template": (8, CHATML_JINJA)})
    assert gguf_magpie_template(str(plain)).pre_query() == "<|im_start|>user\n"  # no default: the bare header


def _label_reply(probs: dict[str, float], sampled: str, field: str = "input_quality") -> Choice:
    """A JSON reply whose label token carries ``probs`` (first tokens of the labels) as its alternatives."""
    first = {"very poor": "very", "poor": "poor", "average": "average", "good": "good", "excellent": "ex"}
    head = [TokenLogprob(t, -0.01) for t in ('{"', field, '":', ' "')]
    top = [(first[k], math.log(p)) for k, p in probs.items()] + [(" maybe", math.log(0.001)), ("v", math.log(0.0005))]
    label = TokenLogprob(first[sampled], math.log(probs[sampled]), top)
    return Choice(f'{{"{field}": "{sampled}", "explanation": "x"}}', "stop", [*head, label, TokenLogprob('"', -0.01)])


def test_label_distribution_reads_the_label_position_and_calibration_divides_by_the_prior():
    choice = _label_reply({"very poor": 0.9, "poor": 0.05, "good": 0.03, "excellent": 0.02}, "very poor")
    dist = label_distribution(choice.logprobs, "input_quality", QUALITY)
    # "v" begins only "very poor" and counts for it once (the larger of the two); " maybe" begins no label
    assert dist == pytest.approx({"very poor": 0.9 / 1.0, "poor": 0.05, "average": 0.0, "good": 0.03, "excellent": 0.02})
    assert label_distribution(None, "input_quality", QUALITY) is None
    assert label_distribution([TokenLogprob("{}", -0.1)], "input_quality", QUALITY) is None
    prior = {"very poor": 0.97, "poor": 0.02, "average": 0.005, "good": 0.0025, "excellent": 0.0025}
    q = calibrated(dist, prior)
    assert max(q, key=q.get) == "good" and sum(q.values()) == pytest.approx(1.0)


def test_calibrated_quality_tag_asks_the_label_first_and_ranks_queries_by_how_far_they_move_the_judge():
    biased = {"very poor": 0.96, "poor": 0.02, "good": 0.01, "excellent": 0.01}

    def reply(req):
        text = user_text(req)
        assert req.logprobs and req.top_logprobs == 20
        assert list(req.json_schema["properties"]) == ["input_quality", "explanation"]
        assert "Give the rating first" in text
        if "Photosynthesis" in text:  # moves the judge towards "excellent" by 8x, "very poor" down a little
            return _label_reply({"very poor": 0.88, "poor": 0.02, "good": 0.02, "excellent": 0.08}, "very poor")
        return _label_reply(biased, "very poor")  # the content-free queries and "asdf": the judge's bias

    model = ScriptedModel(reply)
    step = MagpieTag("q", task="quality", calibrate=True)
    good, junk = run_step(step, model, [{"id": "a", "instruction": "Explain Photosynthesis step by step."},
                                        {"id": "b", "instruction": "asdf"}])
    assert len(model.requests) == 2 + 3  # the two queries, and the three content-free ones once
    assert sorted(user_text(r).split("```")[1].strip() for r in model.requests[:3]) == ["", "N/A", "[MASK]"]
    assert good[0]["input_quality"] == "excellent"
    probs = good[0]["input_quality_probabilities"]
    assert max(probs, key=probs.get) == "excellent" and sum(probs.values()) == pytest.approx(1.0, abs=1e-3)
    # a query that leaves the judge where the content-free ones put it gets no label pushed up by it
    assert junk[0]["input_quality_probabilities"]["very poor"] == pytest.approx(
        junk[0]["input_quality_probabilities"]["poor"], rel=1e-2)


def test_calibrated_tag_without_logprobs_keeps_the_sampled_label():
    step = MagpieTag("q", task="quality", calibrate=True)
    [out] = run_step(step, lambda req: '{"input_quality": "poor", "explanation": "vague"}', [{"id": "a", "instruction": "hm"}])
    assert out[0]["input_quality"] == "poor" and out[0]["input_quality_probabilities"] is None
