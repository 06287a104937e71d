"""APIGen: function-calling data generated from executable tools and verified in three stages.

Liu et al. 2024, "APIGen: Automated Pipeline for Generating Verifiable and Diverse Function-Calling
Datasets", NeurIPS 2024 Datasets and Benchmarks, arXiv:2406.18518 (Salesforce xLAM). The paper samples
1-k executable APIs (and seed query/answer pairs) from a library of 3,673 APIs in 21 categories, asks a
generator model for queries and their calls in one of four forms — *simple* (one call of one API),
*multiple* (one call, the right API picked among several), *parallel* (several calls of one API) and
*parallel multiple* (several calls of several APIs) — as the JSON list
``[{"query": ..., "answers": [{"name": ..., "arguments": {...}}]}]``, then keeps a pair only when it
passes (1) a format check, (2) the real execution of its calls and (3) an LLM's semantic check.

This module holds the generation half: :class:`ApigenSample` (``apigen_sample``, a source) draws the tools
and the form of each example from the catalogue (:func:`synthloom.tools.load_catalogue`) or a user's tools
file; :class:`ApigenGenerate` (``apigen_generate``) writes the query/answer pairs with the paper's prompt
(instructions, few-shot pairs, the form, the functions, the output format), decoding constrained by a JSON
schema built from the sampled tools' schemas. The three verification stages and the final answer are in
:mod:`.apigen_checks`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import xxhash

from ...llm.structured import JSONParseError, parse_json_text
from ...llm.tools import call_schema
from ...pipeline.model_step import ModelStep, chat
from ...pipeline.step import DrawnSource, Rejected
from ...records import adopt_rows, user_columns

CITATION = ("Liu et al. 2024, APIGen: Automated Pipeline for Generating Verifiable and Diverse Function-Calling "
            "Datasets, NeurIPS 2024 Datasets and Benchmarks, arXiv:2406.18518")
#: the paper's four query forms
FORMS = ("simple", "multiple", "parallel", "parallel_multiple")
#: forms answered by one call / by several calls
SINGLE_CALL = ("simple", "multiple")
#: forms offered several tools (the rest are offered one)
MULTI_TOOL = ("multiple", "parallel_multiple")
EXAMPLES_FILE = Path(__file__).with_name("apigen_examples.jsonl")
#: the longest query the generation schema allows (a small model may otherwise never close the string)
MAX_QUERY_CHARS = 600


def _stable_int(*parts: Any) -> int:
    return xxhash.xxh3_64_intdigest("\x1f".join(map(str, parts)).encode())


def form_weights(forms: dict[str, float] | list[str] | None, where: str) -> dict[str, float]:
    """The form mix: ``None`` = the four forms equally, a list = those forms equally, a mapping = form -> weight."""
    mix = dict.fromkeys(FORMS, 1.0) if forms is None else \
        dict.fromkeys(forms, 1.0) if isinstance(forms, (list, tuple)) else dict(forms)
    unknown = [f for f in mix if f not in FORMS]
    if unknown:
        raise ValueError(f"{where}: unknown form {unknown[0]!r}; forms are {', '.join(FORMS)}")
    if any(not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0 for w in mix.values()):
        raise ValueError(f"{where}: form weights must be numbers >= 0, not {mix}")
    mix = {f: float(w) for f, w in mix.items() if w > 0}
    if not mix:
        raise ValueError(f"{where}: give at least one form with a weight above 0 (forms: {', '.join(FORMS)})")
    return mix


def tool_pool(tools_file: str | None, categories: list[str] | None, where: str) -> list[Any]:
    """The executable tools to sample from: the bundled catalogue's, or those of ``tools_file``
    (:func:`synthloom.tools.load_tools`), restricted to ``categories`` when given."""
    from ...tools import load_catalogue, load_tools

    tools = load_tools(tools_file) if tools_file else load_catalogue().tools()
    source = tools_file or "the bundled catalogue"
    known = sorted({t.category for t in tools})
    for c in categories or ():
        if c not in known:
            raise ValueError(f"{where}: {source} has no tool category {c!r} (categories: {', '.join(known)})")
    chosen = [t for t in tools if t.executable and (not categories or t.category in categories)]
    if not chosen:
        raise ValueError(f"{where}: {source} has no executable tool{' in ' + ', '.join(categories) if categories else ''}; "
                         "APIGen executes every call (tools without an implementation can only be simulated: toolalpaca)")
    return chosen


class ApigenSample(DrawnSource):
    """Source of ``n`` APIGen examples to generate: each a query form drawn from ``forms`` (a list, or a
    mapping form -> weight; default the four forms equally) and the tools offered for it, drawn from the
    bundled catalogue or ``tools_file`` (only ``categories`` when given): one tool for ``simple`` and
    ``parallel``, 2 to ``k`` for ``multiple`` and ``parallel_multiple``, from one category unless
    ``same_category`` is false. Writes ``tools`` (OpenAI function tools), ``form`` and ``category``;
    deterministic in ``seed``."""

    type_name = "apigen_sample"
    columns = ("tools", "form", "category")

    def __init__(self, name: str, *, n: int = 100, k: int = 3, forms: dict[str, float] | list[str] | None = None,
                 categories: list[str] | None = None, tools_file: str | None = None, same_category: bool = True,
                 seed: int = 0, citations: Iterable[str] = ()) -> None:
        super().__init__(name, citations=[CITATION, *citations])
        where = f"apigen_sample {name!r}"
        if int(n) < 0:
            raise ValueError(f"{where}: n must be >= 0, not {n}")
        if int(k) < 1:
            raise ValueError(f"{where}: k (the most tools per example) must be >= 1, not {k}")
        self.mix = form_weights(forms, where)
        self.pool = tool_pool(tools_file, categories, where)
        self.by_category: dict[str, list[Any]] = {}
        for tool in self.pool:
            self.by_category.setdefault(tool.category, []).append(tool)
        wants_many = [f for f in self.mix if f in MULTI_TOOL]
        if wants_many and int(k) < 2:
            raise ValueError(f"{where}: the forms {', '.join(wants_many)} offer 2 to k tools; set k >= 2 or drop them")
        self.rich = sorted(c for c, ts in self.by_category.items() if len(ts) >= 2)
        if wants_many and (not self.rich if same_category else len(self.pool) < 2):
            raise ValueError(f"{where}: the forms {', '.join(wants_many)} need 2 tools{' of one category' if same_category else ''}, "
                             "and the tools to sample from do not have them; add tools or drop those forms")
        self.n, self.k, self.same_category, self.seed = int(n), int(k), bool(same_category), int(seed)

    def draw(self, index: int) -> dict[str, Any]:
        """Example ``index``: its form, tools and category (a pure function of the seed and index)."""
        rng = random.Random(_stable_int(self.seed, index, "apigen"))
        form = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        count = rng.randint(2, self.k) if form in MULTI_TOOL else 1
        if self.same_category:
            category = rng.choice(self.rich if count > 1 else sorted(self.by_category))
            pool = self.by_category[category]
        else:
            category, pool = "", self.pool
        tools = rng.sample(pool, min(count, len(pool)))
        category = category or ", ".join(sorted({t.category for t in tools}))
        return {"tools": [t.openai() for t in tools], "form": form, "category": category}

    def fingerprint(self) -> str:
        tools = [(t.openai(), t.entry, t.module.source if t.module else None) for t in self.pool]
        return xxhash.xxh3_64_hexdigest(orjson.dumps(tools, option=orjson.OPT_SORT_KEYS))


def generation_schema(tools: list[dict[str, Any]], form: str, *, queries: int, max_calls: int) -> dict[str, Any]:
    """The JSON schema of the generator's reply: a list of 1-``queries`` ``{"query", "answers"}`` pairs whose
    answers are calls of the offered ``tools`` (name and the tool's parameter schema), one call for the
    single-call forms and 2-``max_calls`` for the parallel ones."""
    options = [call_schema(t) for t in tools]
    call = options[0] if len(options) == 1 else {"anyOf": options}
    answers: dict[str, Any] = {"type": "array", "items": call, "minItems": 1 if form in SINGLE_CALL else 2,
                               "maxItems": 1 if form in SINGLE_CALL else max(2, max_calls)}
    pair = {"type": "object", "properties": {"query": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS}, "answers": answers},
            "required": ["query", "answers"], "additionalProperties": False}
    return {"type": "array", "items": pair, "minItems": 1, "maxItems": queries}


def load_examples(path: str | Path) -> list[dict[str, Any]]:
    """Few-shot query/answer pairs: JSONL rows with ``query``, ``answers`` (the paper's calls) and an optional ``form``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the examples file ({exc.strerror or exc})") from exc
    out = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{i}: not a JSON object ({exc.msg})") from exc
        if not (isinstance(row, dict) and isinstance(row.get("query"), str) and isinstance(row.get("answers"), list)):
            raise ValueError(f"{path}:{i}: an example needs `query` (text) and `answers` (a list of {{name, arguments}} calls)")
        if row.get("form") is not None and row["form"] not in FORMS:
            raise ValueError(f"{path}:{i}: unknown form {row['form']!r}; forms are {', '.join(FORMS)}")
        out.append(row)
    if not out:
        raise ValueError(f"{path}: no examples in the file")
    return out


class ApigenGenerate(ModelStep):
    """APIGen's query/answer generator. For each row (``tools``: OpenAI function tools; ``form``: one of
    simple, multiple, parallel, parallel_multiple) it asks for ``queries`` query/answer pairs with the
    paper's prompt — instructions, ``n_examples`` few-shot pairs (from ``examples``, a JSONL file; default
    the bundled ones, the row's form first), the form's guidance, the functions, the JSON format — and emits
    one row per pair with ``query`` and ``answers`` (the calls as generated; the ``apigen_format`` stage
    checks them). With ``constrain`` the reply is decoded under a JSON schema made from the tools' schemas
    (a grammar on llama.cpp; ``response_format`` on OpenAI-compatible servers). Rejected: a reply that is
    not JSON or was cut off at ``max_tokens``."""

    type_name = "apigen_generate"
    default_sampling = {"temperature": 0.7, "max_tokens": 768}

    def __init__(self, name: str, *, queries: int = 1, max_calls: int = 4, examples: str | None = None,
                 n_examples: int = 2, constrain: bool = True, template: str | None = None,
                 system_template: str | None = None, citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"apigen_generate {name!r}"
        for opt, v, lo in (("queries", queries, 1), ("max_calls", max_calls, 2), ("n_examples", n_examples, 0)):
            if int(v) < lo:
                raise ValueError(f"{where}: {opt} must be >= {lo}, not {v}")
        super().__init__(name, reads=["tools", "form"], writes=["query", "answers"],
                         citations=[CITATION, *citations], **kwargs)
        self.examples = load_examples(examples or EXAMPLES_FILE)
        self.queries, self.max_calls, self.n_examples = int(queries), int(max_calls), int(n_examples)
        self.constrain = bool(constrain)
        self.prompt = template if template is not None else self.load_template("apigen_generate.jinja")
        self.system = system_template if system_template is not None else self.load_template("apigen_generate_system.jinja")
        self.read_columns(self.prompt, self.system, not_columns={"functions", "n_functions", "form", "examples", "queries"})

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["examples"] = xxhash.xxh3_64_hexdigest(orjson.dumps(self.examples, option=orjson.OPT_SORT_KEYS))  # edited pairs recompute
        return d

    def pick_examples(self, record: dict[str, Any], form: str) -> list[dict[str, Any]]:
        """``n_examples`` few-shot pairs for the row, those of its form first, drawn with the row's seed."""
        rng = random.Random(self.seed_for(record, "examples"))
        same = [e for e in self.examples if e.get("form") == form]
        other = [e for e in self.examples if e.get("form") != form]
        rng.shuffle(same)
        rng.shuffle(other)
        return (same + other)[: self.n_examples]

    def messages(self, record: dict[str, Any]) -> list[dict[str, str]]:
        form = record.get("form")
        view = {**user_columns(record), "form": form, "queries": self.queries, "n_functions": len(record["tools"]),
                "functions": "\n".join(json.dumps(t["function"], ensure_ascii=False) for t in record["tools"]),
                "examples": [{"query": e["query"], "answers": json.dumps(e["answers"], ensure_ascii=False)}
                             for e in self.pick_examples(record, form)]}
        return chat(self.render(self.prompt, view).strip(), system=self.render(self.system, view).strip() or None)

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        tools, form = record.get("tools"), record.get("form")
        if not isinstance(tools, list) or not tools or not all(isinstance(t, dict) and "function" in t for t in tools):
            raise ValueError(f"apigen_generate {self.name!r}: column 'tools' must be a non-empty list of OpenAI function "
                             "tools ({'type': 'function', 'function': {...}}); apigen_sample makes them")
        if form not in FORMS:
            raise ValueError(f"apigen_generate {self.name!r}: column 'form' must be one of {', '.join(FORMS)}, not {form!r}")
        request = self.request(record, self.messages(record), salt="generate")
        if self.constrain:
            request = request.replace(json_schema=generation_schema(tools, form, queries=self.queries,
                                                                    max_calls=self.max_calls))
        response, lineage = await self.call(record, request)
        text = response.text or ""
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the generator's reply hit max_tokens (finish_reason=length): its JSON is cut off")
        try:
            value = parse_json_text(text, "array")
        except JSONParseError:
            return Rejected(f"the generator's reply is not the JSON list of query/answer pairs: {text.strip()[:120]!r}")
        pairs = value if isinstance(value, list) else [value]
        if not pairs:
            return Rejected("the generator's reply is an empty list: no query/answer pair")
        base = user_columns(record)
        rows = [{**base, "query": p.get("query") if isinstance(p, dict) else None,
                 "answers": p.get("answers") if isinstance(p, dict) else p} for p in pairs]
        return adopt_rows(record, rows, self.name, [lineage])
