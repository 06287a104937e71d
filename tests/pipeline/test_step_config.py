"""The declared step config: every option of every registered step type is part of the run
fingerprint (so a changed option can never resume stale rows), and every type takes ``inputs:``."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path

import pytest

from synthloom.pipeline.config import bind_config, option_type_problem, options_markdown, step_options
from synthloom.pipeline.llm_step import LLMStep
from synthloom.recipes.registry import STEP_TYPES, step_class
from synthloom.recipes.registry import step_options as recipe_options

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("files")
    (d / "rows.jsonl").write_text(json.dumps({"text": "a b c", "question": "q", "answer": "1"}) + "\n")
    (d / "bench.jsonl").write_text(json.dumps({"question": "What is 2+2?", "answer": "4"}) + "\n")
    (d / "tax.jsonl").write_text("".join(json.dumps({"path": f"math/arith/{i}", "description": "d",
                                                     "seed_examples": [{"question": f"q{j}", "answer": "a"} for j in range(3)],
                                                     "task": "knowledge"}) + "\n"
                                         for i in range(2)))
    (d / "personas.jsonl").write_text(json.dumps({"persona": "A baker", "who": "A pilot"}) + "\n")
    (d / "bench2.jsonl").write_text(json.dumps({"question": "What is 3+3?", "answer": "6"}) + "\n")
    (d / "knowledge.jsonl").write_text(json.dumps({"document": "A short document.", "seed_examples": [
        {"context": "c", "questions_and_answers": [{"question": "q", "answer": "a"}]}] * 5}) + "\n")
    return {"rows": str(d / "rows.jsonl"), "bench": str(d / "bench.jsonl"), "bench2": str(d / "bench2.jsonl"), "tax": str(d / "tax.jsonl"),
            "personas": str(d / "personas.jsonl"), "knowledge": str(d / "knowledge.jsonl")}


def required(type_name: str, files: dict[str, str]) -> dict[str, typing.Any]:
    """The smallest valid options of a type (its required options), from a table of examples."""
    examples: dict[str, dict[str, typing.Any]] = {
        "load": {"path": files["rows"]},
        "records": {"rows": [{"text": "x"}]},
        "llm": {"prompt": "Say {{ text }}"},
        "filter": {"keep": "text | length > 1"},
        "set": {"columns": {"b": "{{ text }}"}},
        "select": {"columns": ["text"]},
        "join": {"inputs": ["a", "b"], "on": "text"},
        "loop": {"steps": [LLMStep("inner", prompt=lambda r: "x", parse=lambda r, resp: r)]},
        "decontaminate": {"against": files["bench"]},
        "decontaminate_llm": {"against": files["bench"]},
        "dedup_exact": {"columns": ["text"]},
        "dedup_minhash": {"columns": "text"},
        "select_threshold": {"column": "score", "min": 0.5},
        "select_band": {"column": "score", "lo": 1},
        "select_top": {"column": "score", "k": 2},
        "select_topk_per_cluster": {"column": "score", "k": 2},
        "rouge_filter": {"column": "text"},
        "heuristic_filter": {"column": "text", "rules": [{"length": {"min_words": 2}}]},
        "judge_pairwise": {"response_a": "a", "response_b": "b"},
        "judge_jury": {"models": ["default", "second"]},
        "lab_taxonomy": {"path": files["tax"]},
        "lab_knowledge": {"path": files["knowledge"]},
        "attribute_sampler": {"attributes": {"colour": ["red", "blue"]}},
        "attribute_assign": {"attributes": {"colour": ["red", "blue"]}},
        "magpie_tag": {"task": "quality"},
        "personas": {"path": files["personas"]},
        "kto_labels": {"threshold": 3},
        "reward_difference": {"min_difference": 0.5},
        "arena_battles": {"models": ["a", "b"]},
        "arena_data": {"target": "a"},
        "coannotate": {"labels": ["yes", "no"]},
        "agent_loop": {"environment": "text_to_sql"},
        "documents": {"paths": [str(SRC / "recipes/builtin/wrap_documents")]},
        "table_copula": {"real": "sklearn:iris"}, "table_cart": {"real": "sklearn:iris"},
        "table_validate": {"real": "sklearn:iris"},
        "mallm_gan": {"real": "sklearn:iris"},
        "table_samplers": {"columns": [{"name": "c", "sampler": "category", "values": ["a", "b"]}]},
        "table_llm_columns": {"columns": [{"name": "c", "sampler": "llm", "prompt": "Say {{ text }}"}]},
        "autoif_queries": {"path": str(SRC / "recipes/builtin/ifeval_seed_prompts.jsonl")},
        "fellowship_evaluate": {"evaluators": ["default", "second"]},
    }
    return dict(examples.get(type_name, {}))


class With:
    """A changed value that is only valid together with other options (``bands`` needs ``rows``)."""

    def __init__(self, value: typing.Any, **others: typing.Any) -> None:
        self.value, self.others = value, others


class FromFiles:
    """A changed value that is a path from the ``files`` fixture."""

    def __init__(self, key: str) -> None:
        self.key = key


#: options that have a single valid value today (nothing to change them to)
SINGLE_VALUED = {("embed", "model")}  # the one bundled embedding model, `minilm`
#: values to change an option to, where the automatic change is not a valid value
MUTATIONS: dict[tuple[str, str], typing.Any] = {
    ("code_repair", "feedback"): "simple", ("code_repair", "history"): "full", ("code_repair", "emit"): "repair_pairs",
    ("codet", "score"): "sqrt", ("codet", "emit"): "ranked", ("oss_instruct", "tests_from"): "followup",
    ("decontaminate", "method"): "embedding", ("decontaminate", "against"): FromFiles("bench2"),
    ("decontaminate_llm", "prompt_kind"): "math", ("decontaminate_llm", "against"): FromFiles("bench2"),
    ("dedup_minhash", "keep"): "longest", ("dedup_minhash", "verify"): "exact",
    ("dedup_minhash", "bands"): With(16, rows=8), ("dedup_minhash", "rows"): With(8, bands=16),
    ("judge", "mode"): "binary", ("judge_jury", "mode"): "binary", ("judge_jury", "aggregate"): "median",
    ("judge_jury", "models"): ["default", "third"], ("judge_jury", "rubric"): "alpagasus",
    ("judge_jury", "scale"): [1, 10], ("judge_jury", "template"): "Rate {{ response }} from {{ lo }} to {{ hi }}.",
    ("judge_pairwise", "rubric"): "prometheus_relative",
    ("judge_pairwise", "template"): "Which is better, {{ response_a }} or {{ response_b }}? Say A or B.",
    ("select_topk_per_cluster", "order"): "asc",
    ("records", "factory"): With(lambda: [{"text": "y"}], columns=["text"], rows=None),
    ("select_band", "by"): "quantile", ("select_top", "order"): "asc", ("select_top", "fraction"): With(0.5, k=None),
    ("heuristic_filter", "rules"): [{"length": {"min_words": 3}}],
    ("join", "how"): "left",
    ("loop", "steps"): [LLMStep("other", prompt=lambda r: "y", parse=lambda r, resp: r)],
    ("wrap", "style"): "qa",
    ("verify_code", "kind"): "stdio",
    ("code_repair", "kind"): "stdio",
    ("dedup_semantic", "keep"): "first",
    ("judge", "rubric"): "alpagasus",
    ("judge", "scale"): [1, 10],
    ("judge", "template"): "Rate {{ response }} from {{ lo }} to {{ hi }}.",
}
#: the verified-reasoning methods: one sampling mode, and their choices of a few named values
MUTATIONS.update({(t, "sampling"): "seeds" for t in (
    "rejection_sampling", "pass_rate", "star", "long_cot", "metamath", "backward_synthesis",
    "learning_from_mistakes", "math_shepherd", "self_correction", "orca_math_harden", "orca_math_ama")})
MUTATIONS.update({("code_repair", "visible_tests"): 2, ("backward_synthesis", "augmentations"): ["numbers"],
                  ("orca_math_ama", "min_correct"): With(2, k=2)})
MUTATIONS.update({("rejection_sampling", "emit"): "pairs", ("metamath", "mask"): "first"})
MUTATIONS.update({("mammoth", "sampling"): "seeds", ("coq_autoformalize", "trivial_tactics"): ["trivial"]})
#: the taxonomy/document instruction methods: named choices, [min, max] ranges, demonstrations, files
SRC = Path(__file__).parents[2] / "src" / "synthloom"
MUTATIONS.update({
    ("glan_sample_sessions", "n_sessions"): [1, 1], ("glan_sample_sessions", "n_concepts"): [2, 3],
    ("nemotron_generate", "task"): "math", ("nemotron_user_turn", "style"): "concise",
    ("orca_system_message", "mode"): "orca", ("orca_system_message", "strategy"): "direct_answer",
    ("orca_system_message", "strategies"): {"math": "direct_answer"},
    ("humpback_backward", "examples"): [{"instruction": "Say hi.", "output": "Hi."}],
    ("agent_instruct_seed", "skill"): "text_modification",
    ("lab_taxonomy", "path"): str(SRC / "recipes/builtin/lab_taxonomy.jsonl"),
    ("lab_knowledge", "path"): str(SRC / "recipes/builtin/lab_knowledge.jsonl"), ("lab_faithfulness", "min_score"): "NO",
    ("lab_faithfulness", "calibrate"): True, ("lab_relevancy", "calibrate"): True, ("lab_question_quality", "calibrate"): True,
    ("lab_question_judge", "calibrate"): True, ("lab_answer_judge", "calibrate"): True,
    ("agent_instruct_seed", "skills_file"): str(SRC / "methods/instructions/agent_instruct_skills.json"),
})
#: Self-Instruct, Evol-Instruct, Magpie, Persona Hub, attribute samplers: named choices and files that exist
MUTATIONS.update({
    ("evol_instruct", "variant"): "code", ("evol_instruct", "operators"): ["deepen"],
    ("magpie_filter", "min_quality"): "excellent", ("magpie_filter", "difficulties"): ["hard"],
    ("magpie_filter", "categories"): ["Math"], ("magpie_instruction", "template"): "llama3",
    ("magpie_turns", "template"): "llama3", ("magpie_tag", "task"): "difficulty", ("magpie_tag", "calibrate"): "auto",
    ("persona_synthesize", "template"): "npc", ("text_to_persona", "relations"): ["like"],
    ("personas", "field"): "who", ("personas", "path"): str(SRC / "methods/instructions/persona_pool.jsonl"),
    ("self_instruct", "seeds"): str(SRC / "methods/instructions/self_instruct_seeds.jsonl"),
    ("attribute_sampler", "mode"): "random", ("attribute_sampler", "attributes"): {"colour": ["red", "green"]},
    ("attribute_assign", "attributes"): {"colour": ["red", "green"]},
})
#: preference: completion pools, pairs, KTO labels, reward scoring
MUTATIONS.update({
    ("completions", "sampling_settings"): [{"temperature": 0.5}],
    ("completions", "principle_weights"): With({"a": 1.0}, system_prompts={"a": ["Be kind."]}),
    ("pairs", "rule"): "best_vs_worst", ("pairs", "max_pairs"): With(2, rule="all_above_margin"),
    ("kto_labels", "top_k"): With(2, threshold=None),
    ("reward_score", "method"): "pooling", ("reward_score", "label_index"): With(1, method="classify"),
    ("reward_score", "scale"): [1, 9], ("reward_score", "template"): "Rate {{ response }} to {{ instruction }}.",
})
#: preference methods: UltraFeedback, CLAIR, Self-Rewarding, SPIN
MUTATIONS.update({
    ("ultrafeedback", "aspects"): ["honesty"], ("ultrafeedback", "score_by"): With("critique", critique=True),
    ("ultrafeedback_completions", "principle_mix"): "flan",
    ("ultrafeedback_completions", "sampling_settings"): [{"temperature": 0.5}],
    ("ultrafeedback_completions", "principles_file"): str(SRC / "methods/preference/ultrafeedback_principles.json"),
    ("self_rewarding", "emit"): "completions", ("self_rewarding", "round_models"): With(["a", "b"], rounds=2),
    ("spin", "prompt_format"): "instruction_response",
})
#: preference methods: Constitutional AI, Arena Learning, CoAnnotating
MUTATIONS.update({
    ("constitutional", "constitution"): str(SRC / "methods/preference/constitution.json"),
    ("constitutional", "principles"): ["empathetic"], ("constitutional", "emit"): "pairs",
    ("constitutional_feedback", "constitution"): str(SRC / "methods/preference/constitution.json"),
    ("constitutional_feedback", "principles"): ["cordial"],
    ("arena_battles", "models"): ["a", "b", "c"], ("arena_battles", "pairing"): With("target", target="a"),
    ("arena_battles", "target"): "b",
    ("arena_battles", "systems"): {"a": "Be brief."}, ("arena_battles", "model_sampling"): {"a": {"temperature": 0.5}},
    ("arena_data", "emit"): "pairs", ("arena_ratings", "ties"): "drop",
    ("arena_ratings", "anchor_rating"): With(1100.0, anchor="a"), ("coannotate", "labels"): ["yes", "no", "maybe"],
})
#: preference methods: Fellowship of the LLMs, preference trees (UltraInteract)
MUTATIONS.update({
    ("fellowship_generate", "sampling_settings"): [{"temperature": 0.5}],
    ("fellowship_generate", "principle_weights"): With({"a": 1.0}, system_prompts={"a": ["Be kind."]}),
    ("fellowship_evaluate", "config"): "judge", ("fellowship_evaluate", "configs"): ["jury"],
    ("fellowship_evaluate", "aggregate"): "median", ("fellowship_evaluate", "evaluators"): ["default", "third"],
    ("preference_tree", "sampling"): "seeds",
})
#: APIGen: forms, categories and files that exist
MUTATIONS.update({
    ("apigen_sample", "forms"): ["simple"], ("apigen_sample", "categories"): ["arithmetic"],
    ("apigen_sample", "tools_file"): str(SRC / "tools/catalogue/arithmetic.py"),
    ("apigen_execute", "tools_file"): str(SRC / "tools/catalogue/arithmetic.py"),
    ("apigen_generate", "examples"): str(SRC / "methods/agentic/apigen_examples.jsonl"),
})

#: ToolACE and ToolAlpaca: named choices and files that exist
MUTATIONS.update({
    ("toolace_domains", "path"): str(SRC / "methods/agentic/toolace_domains.json"), ("toolace_domains", "domains"): ["finance"],
    ("toolace_synthesize", "indicators"): ["mutate_types"], ("toolace_sample", "forms"): ["simple"],
    ("toolace_execute", "tools_file"): str(SRC / "tools/catalogue/arithmetic.py"),
    ("toolalpaca_simulate", "first_tool_choice"): "auto",
    ("toolalpaca_toolsets", "openapi"): [str(SRC / "methods/agentic/toolalpaca_openapi/weather.json")],
})
#: AgentInstruct (17 skills) and BenchAgents: skills, files and names that exist
MUTATIONS.update({
    ("agent_instruct_answer", "code_skills"): ["coding"],
    ("agent_instruct_answer", "skills_file"): str(SRC / "methods/instructions/agent_instruct_skills.json"),
    ("agent_instruct_skills", "skills_file"): str(SRC / "methods/instructions/agent_instruct_skills.json"),
    ("agent_instruct_transform", "corpus"): str(SRC / "methods/instructions/agent_instruct_corpus.jsonl"),
    ("benchagents_plan", "plan_file"): str(SRC / "recipes/builtin/benchagents_calendar_plan.json"),
    ("benchagents_evaluate", "summary"): "scores.json",
})
#: APIGen-MT: environments, tables and tools that exist, named choices
MUTATIONS.update({
    ("apigen_mt_tasks", "domains"): ["store"], ("apigen_mt_tasks", "start_table"): "payment_methods",
    ("apigen_mt_tasks", "focus_tools"): ["cancel_pending_order", "book_reservation"],
    ("apigen_mt_trajectory", "agent_tool_choice"): "required", ("apigen_mt_trajectory", "keep"): "all",
})
#: the agent loop and text-to-SQL: environments, databases and levels that exist, named choices
MUTATIONS.update({
    ("agent_loop", "environment"): "store", ("agent_loop", "environment_options"): {"observation_limit": 1000},
    ("agent_loop", "emit"): With("pairs", attempts=2), ("agent_loop", "tool_choice"): "required",
    ("text_to_sql_tasks", "databases"): ["retail"], ("text_to_sql_tasks", "difficulties"): ["hard"],
})
#: seeds mined from source files (OSS-Instruct, Case2Code), GLAN's taxonomy, Humpback's rounds, Nemotron's constraints
MUTATIONS.update({
    ("oss_instruct_windows", "path"): str(SRC / "methods/code/seed_corpus/grids.py"), ("oss_instruct_windows", "pattern"): "*_tools.py",
    ("case2code_functions", "path"): str(SRC / "methods/code/seed_corpus/grids.py"), ("case2code_functions", "pattern"): "*_tools.py",
    ("glan_sample_sessions", "sessions_per_difficulty"): {"basic": [1, 2]},
    ("glan_taxonomy", "reviewed"): str(SRC / "recipes/builtin/glan_disciplines.jsonl"),
    ("humpback_self_curation", "examples"): [{"instruction": "Say hi.", "output": "Hi."}],
    ("nemotron_if_constraints", "kinds"): ["change_case:english_lowercase"],
})
#: IFEval-style constraints and AutoIF: constraint ids, modes and query files that exist
MUTATIONS.update({
    ("ifeval_constraints", "kinds"): ["punctuation:no_comma"], ("ifeval_check", "mode"): "loose",
    ("autoif_back_translate", "reject_relations"): ["contradiction", "neutral"],
    ("autoif_queries", "path"): str(SRC / "recipes/builtin/preference_prompts.jsonl"),
    ("autoif_queries", "column"): With("instruction", path=str(SRC / "recipes/builtin/autoif_seed_instructions.jsonl")),
})
#: SWE-smith in miniature: repositories that exist, bug methods
MUTATIONS.update({("swe_repos", "repos"): ["minicalc"], ("swe_bugs", "methods"): ["mutation"]})
#: documents in (sources, chunks) and WRAP's mix: tokenizers and formats that exist
MUTATIONS.update({
    ("chunk", "tokenizer"): "whitespace", ("wrap_mix", "tokenizer"): "whitespace", ("wrap_mix", "synthetic"): ["qa"],
    ("documents", "formats"): ["pdf"], ("documents", "paths"): [str(SRC / "recipes/builtin/wrap_documents/tides.md")],
})
#: tabular baselines: marginal families that exist
MUTATIONS.update({("table_copula", "distribution"): "kde"})
#: MALLM-GAN: the other causal-discovery choice
MUTATIONS.update({("mallm_gan", "causal"): "none"})
#: tabular samplers: a spec file that exists, columns and constraints that parse
MUTATIONS.update({
    ("table_samplers", "spec"): With(str(SRC / "recipes/builtin/table_samplers_columns.yml"), columns=None),
    ("table_samplers", "columns"): [{"name": "d", "sampler": "bernoulli", "p": 0.5}],
    ("table_samplers", "constraints"): ["c == 'a'"],
    ("table_llm_columns", "spec"): With(str(SRC / "recipes/builtin/table_samplers_columns.yml"), columns=None),
    ("table_llm_columns", "columns"): [{"name": "d", "sampler": "llm", "prompt": "Hi"}],
    ("table_llm_columns", "constraints"): ["1 == 1"],
})
#: Cosmopedia and phi textbooks: audiences, formats and test sources that exist
MUTATIONS.update({("cosmopedia_prompts", "audiences"): ["researchers"], ("cosmopedia_prompts", "formats"): ["story"],
                  ("phi_exercise", "tests_from"): "doctest"})
#: CAMEL role-playing and simulated-user conversations: variants, pools and roles that exist, named choices
MUTATIONS.update({
    ("camel", "variant"): "code", ("camel_roles", "variant"): "code",
    ("camel_roles", "pool"): str(SRC / "methods/agentic/camel_society_roles.json"),
    ("camel_roles", "assistant_roles"): ["Chef", "Nurse"], ("camel_roles", "user_roles"): ["Nurse", "Chef"],
    ("camel_roles", "languages"): With(["Python"], variant="code"), ("camel_roles", "domains"): With(["Finance"], variant="code"),
    ("simulated_user", "styles"): ["concise"], ("simulated_user", "rubric"): "prometheus",
    ("simulated_user", "aggregate"): "mean",
})
#: TinyStories and augmentation (AugGPT, DISCO, Self-Translate-Train): labels, languages and measures that exist
MUTATIONS.update({
    ("disco_spans", "labels"): ["entailment", "contradiction"], ("disco_teacher", "labels"): ["entailment", "contradiction"],
    ("self_translate", "target_language"): "fr", ("self_translate", "source_language"): "es",
    ("self_translate", "measure"): "lexical", ("similarity_filter", "measure"): "lexical",
    ("tinystories_seeds", "vocabulary"): str(SRC / "methods/corpus/tinystories_vocabulary.json"),
    ("tinystories_seeds", "features"): ["Dialogue", "Twist"], ("tinystories_words", "on_missing"): "tag",
    ("tinystories_instruct", "kinds"): ["summary", "words"],
})
#: CORE (a corpus and demonstrations that exist), ToolCoder (an API index that exists, a search mode), Self-Judge
MUTATIONS.update({("core_retrieve", "corpus"): str(SRC / "recipes/builtin/auggpt_texts.jsonl"), ("core_edit", "demonstrations"): [],
                  ("toolcoder", "api_docs"): str(SRC / "methods/code/toolcoder_api_docs.jsonl"), ("toolcoder", "search"): "auto",
                  ("self_judge", "similarity_measure"): "lexical", ("self_judge", "abstained"): "reject"})
#: knowledge-infused QA (a fact table that exists) and SteerLM rows (named placements, a valid scale)
MUTATIONS.update({("fact_check", "facts"): str(SRC / "recipes/builtin/knowledge_facts.jsonl"),
                  ("steerlm_rows", "placement"): "prompt", ("steerlm_rows", "scale"): [1, 5]})
#: Benchmark Self-Evolving (operations and sub-abilities that exist) and WorFBench (a tools file, a text measure)
MUTATIONS.update({
    ("self_evolving_operations", "operations"): ["polarity_reversing"],
    ("self_evolving_operations", "sub_abilities"): ["task_planning"],
    ("worfbench_generate", "tools_file"): str(SRC / "tools/catalogue/arithmetic.py"),
    ("worfbench_check", "tools_file"): str(SRC / "tools/catalogue/arithmetic.py"),
    ("worfbench_evaluate", "measure"): "lexical",
})
#: the web environment: sites, kinds and a tutorial folder that exist
MUTATIONS.update({
    ("web_tasks", "sites"): ["shop"], ("web_tasks", "kinds"): ["buy"], ("web_tutorials", "sites"): ["forum"],
    ("web_tutorials", "path"): str(SRC / "methods/agentic/agenttrek_tutorials"),
})
#: ALMITA agent tests: a procedure file and procedures that exist, the other emit
MUTATIONS.update({
    ("agent_test_paths", "procedures"): str(SRC / "methods/agentic/agent_tests_procedures.json"),
    ("agent_test_paths", "names"): ["list_orders"], ("agent_tests", "emit"): "conversations",
})

def auto_value(param: inspect.Parameter) -> list[typing.Any]:
    """Candidate values different from the default (tried in order until one builds)."""
    d = param.default
    ann = str(param.annotation)
    out: list[typing.Any] = []
    if isinstance(d, bool):
        return [not d]
    if isinstance(d, int):
        return [d + 1, d * 2, max(d - 1, 0)]
    if isinstance(d, float):
        return [d / 2 if d else 0.5, d + 0.1, min(d * 1.1, 0.99) if d < 1 else d + 1]
    if isinstance(d, str):
        return [d + "_x", "text", "x"]
    if isinstance(d, (list, tuple)):
        return [[*d, "x"], [*d, *d], [], ["text"]]
    if isinstance(d, dict):
        return [{**d, "x": "y"}, {}]
    if d is None or d is inspect.Parameter.empty:
        if "bool" in ann:
            out.append(True)
        if "int" in ann:
            out += [2, 5]
        if "float" in ann:
            out += [0.5, 0.25]
        if "str" in ann:
            out += ["text", "x"]
        if "list" in ann or "Iterable" in ann or "Sequence" in ann:
            out += [["text"], ["x"]]
        if "dict" in ann or "Mapping" in ann:
            out += [{"x": "y"}]
        out += ["text", 2, 0.5, True, ["text"]]
    return out


def build(type_name: str, options: dict[str, typing.Any]):
    return step_class(type_name)("s", **options)


@pytest.mark.parametrize("type_name", sorted(STEP_TYPES))
def test_every_option_changes_the_fingerprint(type_name, files):
    cls = step_class(type_name)
    base_opts = required(type_name, files)
    base = build(type_name, base_opts)
    base_desc = json.dumps(base.describe(), sort_keys=True, default=str)
    uncovered = []
    for opt, param in recipe_options(cls).items():
        if opt == "inputs":
            continue  # wiring, not an option: checked by the pipeline
        current = base_opts.get(opt, param.default)
        candidates = [MUTATIONS[(type_name, opt)]] if (type_name, opt) in MUTATIONS else auto_value(param)
        if (type_name, opt) in SINGLE_VALUED:
            continue
        changed = None
        for value in candidates:
            others: dict[str, typing.Any] = {}
            if isinstance(value, With):
                value, others = value.value, value.others
            if isinstance(value, FromFiles):
                value = files[value.key]
            if value == current:
                continue
            try:
                changed = build(type_name, {**base_opts, **others, opt: value})
                break
            except (TypeError, ValueError, OSError, KeyError, AttributeError):
                continue
        if changed is None:
            uncovered.append(opt)
            continue
        desc = json.dumps(changed.describe(), sort_keys=True, default=str)
        if opt in cls.runtime_options:
            assert desc == base_desc, f"{type_name}.{opt} is a runtime option but changes the fingerprint"
            assert changed.config[opt] == value
        else:
            assert desc != base_desc, f"changing {type_name}.{opt} to {value!r} does not change the fingerprint"
    assert not uncovered, f"{type_name}: no valid changed value found for {uncovered}: add them to MUTATIONS"


def test_the_two_options_once_left_out_are_in_the_fingerprint():
    from synthloom.curate.judges.jury import JudgeJury
    from synthloom.methods.reasoning.orca_math import OrcaMathHarden

    for cls, opt, value in ((OrcaMathHarden, "seed_solution_column", "other"), (JudgeJury, "jury_column", "other")):
        kw = {"models": ["default", "second"]} if cls is JudgeJury else {}
        a, b = cls("s", **kw), cls("s", **kw, **{opt: value})
        assert a.describe() != b.describe() and b.config[opt] == value


def test_config_binds_positional_keyword_and_forwarded_arguments():
    step = LLMStep("s", prompt=lambda r: "x", temperature=0.3)
    assert step.config["temperature"] == 0.3
    assert step.config["max_tokens"] is None  # a sampling option's default
    assert step.config["model"] == "default" and step.config["output"] == "response"
    name, cfg = bind_config(LLMStep, ("t",), {"output": "o"})
    assert name == "t" and cfg["output"] == "o"


@pytest.mark.parametrize("type_name", sorted(STEP_TYPES))
def test_every_type_takes_inputs_in_a_recipe(type_name, tmp_path, files):
    from synthloom.recipes.build import _build_step
    from synthloom.recipes.loader import parse_recipe

    opts = required(type_name, files)
    if type_name == "loop":
        opts["steps"] = [{"name": "inner", "type": "llm", "prompt": "x"}]
    raw = {"name": "s", "type": type_name, "inputs": ["up"] if type_name != "join" else ["a", "b"], **opts}
    if type_name == "join":
        raw.pop("inputs")
        raw["inputs"] = ["a", "b"]
    recipe = parse_recipe(json.dumps({"steps": [raw]}), "r.yaml")
    step = _build_step(recipe, recipe.data["steps"][0], ("steps", 0), {})
    assert step.inputs == (["a", "b"] if type_name == "join" else ["up"])


def test_recipe_values_are_checked_against_the_declared_types():
    params = step_options(LLMStep)
    assert option_type_problem(params["structured_attempts"], "three") == "must be a whole number, not 'three'"
    assert option_type_problem(params["structured_attempts"], 3) is None
    assert option_type_problem(params["reject_truncated"], "yes") == "must be true or false, not 'yes'"
    assert option_type_problem(params["system"], None) is None  # optional
    assert option_type_problem(params["structured_attempts"], True) is not None  # a bool is not a count


def test_option_table_is_generated_from_the_declaration():
    table = options_markdown(step_class("llm"))
    assert "| `prompt` | str | required |" in table
    assert "| `model` | str | `'default'` |" in table
    assert "`parse`" not in table  # a Python callable: not a recipe option
