"""ToolACE-style API synthesis: new tools generated from a domain taxonomy, implemented and tested by the model.

Liu et al. 2024, "ToolACE: Winning the Points of LLM Function Calling", arXiv:2409.00920. Its Tool
Self-evolution Synthesis (TSS) makes APIs in three stages, which this module follows in simplified form:

* **speciation**: an API context tree (domains → subdomains → functionalities). The paper extracts it from
  pretraining data with an LLM; here it is a bundled, hand-written tree (``toolace_domains.json``, 14 domains,
  42 subdomains) of functionalities that can be computed offline, so that every synthesized tool can be executed.
  :class:`ToolaceDomains` yields one record per (domain, subdomain).
* **adaptation**: each API covers a sampled sub-tree: ``functionalities_per_api`` functionalities of its
  subdomain, drawn with a seed derived from the record id.
* **evolution**: the spec is rewritten ``evolution_steps`` times, each under one of the paper's diversity
  indicators (add functionality or parameters, add constraints, mutate parameter types, update returned results).
  The paper also shows the model examples from a growing API buffer; a buffer shared across records would make a
  row depend on the order rows finish in, so the prompt carries one fixed example instead.

Beyond the paper (whose tool agent is an LLM simulating each API), :class:`ToolaceSynthesize` also has the model
write a standard-library Python implementation and, independently from the spec, assert tests. The gate
(:mod:`.toolace_gate`) executes them in the sandbox before the tool enters a catalogue.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import xxhash

from ...pipeline.model_step import ModelStep, chat
from ...pipeline.step import SourceStep
from ...records import adopt_rows, user_columns
from ..code.extract import extract_asserts, extract_code, split_solution_and_asserts

CITATION = "Liu et al. 2024, ToolACE: Winning the Points of LLM Function Calling, arXiv:2409.00920"
DOMAINS_FILE = Path(__file__).with_name("toolace_domains.json")

#: the paper's diversity indicators for the evolution stage (TSS, section 2.1)
INDICATORS: dict[str, str] = {
    "add_functionality": "add a new functionality or a new parameter that a real user of this API would want.",
    "add_constraints": "include additional constraints: bounds on numeric parameters, an enum of allowed values for a "
                       "string parameter, or a validation rule that rejects bad input with an error.",
    "mutate_types": "mutate a parameter's type: for example a single value becomes a list of values, or free text "
                    "becomes an enum of allowed values.",
    "update_returns": "update the returned result: return a richer object (more keys, units, a breakdown) or a "
                      "differently structured one.",
}
#: the parameter types a synthesized spec may use, as JSON schema
PARAM_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
    "boolean": {"type": "boolean"}, "string_list": {"type": "array", "items": {"type": "string"}},
    "number_list": {"type": "array", "items": {"type": "number"}},
}
#: the JSON the model writes a spec in (constrained decoding where the backend can): parameters as a list of at most 6
SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "returns": {"type": "string"},
        "parameters": {"type": "array", "maxItems": 6, "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "type": {"enum": list(PARAM_TYPES)},
                           "description": {"type": "string"}, "required": {"type": "boolean"},
                           "enum": {"type": "array", "items": {"type": "string"}}},
            "required": ["name", "type", "description", "required"], "additionalProperties": False}},
    },
    "required": ["name", "description", "returns", "parameters"],
    "additionalProperties": False,
}
DOMAIN_COLUMNS = ["domain", "description", "subdomain", "functionalities", "api_index"]


def load_domains(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The taxonomy at ``path`` (default: the bundled one) as a list of ``{domain, description, subdomains:
    [{subdomain, functionalities}]}``; a file that does not have that shape raises ValueError naming the place."""
    p = Path(path) if path else DOMAINS_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"toolace domains file {str(p)!r} cannot be read ({exc.strerror}); give an existing JSON file") from None
    except ValueError as exc:
        raise ValueError(f"toolace domains file {p}: not valid JSON ({exc})") from None
    domains = data.get("domains") if isinstance(data, dict) else data
    if not isinstance(domains, list) or not domains:
        raise ValueError(f"{p}: expected {{\"domains\": [{{\"domain\", \"subdomains\": [...]}}]}} with at least one domain")
    for i, d in enumerate(domains):
        where = f"{p.name}: domains[{i}]"
        if not isinstance(d, dict) or not isinstance(d.get("domain"), str) or not d["domain"].strip():
            raise ValueError(f"{where} needs a `domain` name")
        subs = d.get("subdomains")
        if not isinstance(subs, list) or not subs:
            raise ValueError(f"{where} ({d['domain']}) needs a non-empty `subdomains` list")
        for j, s in enumerate(subs):
            funcs = s.get("functionalities") if isinstance(s, dict) else None
            if not isinstance(s, dict) or not isinstance(s.get("subdomain"), str) or not isinstance(funcs, list) \
                    or not funcs or not all(isinstance(f, str) and f.strip() for f in funcs):
                raise ValueError(f"{where}.subdomains[{j}] needs a `subdomain` name and a non-empty list of "
                                 f"`functionalities` (strings)")
    return domains


class ToolaceDomains(SourceStep):
    """ToolACE speciation: one record per (domain, subdomain) of the API context tree (``path``, default the
    bundled ``toolace_domains.json``), ``apis_per_subdomain`` times, interleaved across domains so that the first
    records already span several domains. ``domains`` keeps only the named domains. Columns: ``domain``,
    ``description``, ``subdomain``, ``functionalities`` (the subdomain's list), ``api_index``."""

    type_name = "toolace_domains"
    columns = DOMAIN_COLUMNS

    def __init__(self, name: str, *, path: str | None = None, domains: list[str] | None = None,
                 apis_per_subdomain: int = 1) -> None:
        super().__init__(name, citations=[CITATION])
        if int(apis_per_subdomain) < 1:
            raise ValueError(f"toolace_domains {name!r}: apis_per_subdomain must be >= 1, not {apis_per_subdomain}")
        tree = load_domains(path)
        if domains is not None:
            known = [d["domain"] for d in tree]
            unknown = [d for d in domains if d not in known]
            if unknown:
                raise ValueError(f"toolace_domains {name!r}: unknown domain {unknown[0]!r}; the taxonomy has "
                                 f"{', '.join(known)}")
            tree = [d for d in tree if d["domain"] in domains]
        self.tree, self.apis_per_subdomain = tree, int(apis_per_subdomain)

    def _rows(self) -> Iterator[dict[str, Any]]:
        depth = max(len(d["subdomains"]) for d in self.tree)
        for api_index in range(self.apis_per_subdomain):
            for j in range(depth):
                for d in self.tree:
                    if j < len(d["subdomains"]):
                        s = d["subdomains"][j]
                        yield {"domain": d["domain"], "description": d.get("description", ""),
                               "subdomain": s["subdomain"], "functionalities": list(s["functionalities"]),
                               "api_index": api_index}

    def read(self, limit: int | None = None) -> Iterator[dict[str, Any]]:
        return itertools.islice(self._rows(), limit)

    def count(self, limit: int | None = None) -> int | None:
        n = sum(len(d["subdomains"]) for d in self.tree) * self.apis_per_subdomain
        return n if limit is None else min(n, limit)

    def fingerprint(self) -> str:
        return xxhash.xxh3_64_hexdigest(json.dumps([self.tree, self.apis_per_subdomain], sort_keys=True).encode())


def spec_text(spec: dict[str, Any]) -> str:
    """A spec as the prompts show it (compact JSON, keys in the model's order)."""
    return json.dumps(spec, ensure_ascii=False)


def signature_text(spec: dict[str, Any]) -> str:
    """``a, b, c=None``: the Python parameters a list-form spec asks the implementation for."""
    params = spec.get("parameters") if isinstance(spec.get("parameters"), list) else []
    names = [(p.get("name"), p.get("required", True)) for p in params if isinstance(p, dict)]
    ordered = [n for n, req in names if req] + [f"{n}=None" for n, req in names if not req]
    return ", ".join(str(n) for n in ordered) or "(no parameters)"


class ToolaceSynthesize(ModelStep):
    """ToolACE Tool Self-evolution Synthesis for one (domain, subdomain) record: adaptation (sample
    ``functionalities_per_api`` of the subdomain's functionalities), a spec written by the model as JSON
    (constrained by :data:`SPEC_SCHEMA`), ``evolution_steps`` rewrites under diversity ``indicators`` (default: all
    four of the paper's), then a Python implementation (one ```python block) and ``n_tests`` assert tests. The tests
    are written from the spec alone unless ``tests_see_implementation``: two independent readings of the spec that
    must agree in the sandbox make a stronger gate than tests fitted to the code.

    Writes ``functionalities_used``, ``evolution`` (the indicators applied), ``tool_spec`` (the model's JSON),
    ``implementation`` (``""`` when the reply had no code) and ``tests`` (the asserts found); the gate
    (``toolace_gate``) judges them. Templates: ``spec_template``, ``evolve_template``, ``implement_template``,
    ``tests_template`` (Jinja; default the packaged ``toolace_*.jinja``)."""

    type_name = "toolace_synthesize"
    default_sampling = {"temperature": 0.7, "max_tokens": 1024}

    def __init__(self, name: str, *, functionalities_per_api: int = 2, evolution_steps: int = 1,
                 indicators: list[str] | None = None, n_tests: int = 4, tests_see_implementation: bool = False,
                 spec_template: str | None = None, evolve_template: str | None = None,
                 implement_template: str | None = None, tests_template: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        for opt, v, low in (("functionalities_per_api", functionalities_per_api, 1), ("evolution_steps", evolution_steps, 0),
                            ("n_tests", n_tests, 1)):
            if int(v) < low:
                raise ValueError(f"toolace_synthesize {name!r}: {opt} must be >= {low}, not {v}")
        chosen = list(INDICATORS) if indicators is None else list(indicators)
        unknown = [i for i in chosen if i not in INDICATORS]
        if unknown or not chosen:
            raise ValueError(f"toolace_synthesize {name!r}: indicators must be a non-empty list of "
                             f"{', '.join(INDICATORS)}, not {indicators!r}")
        super().__init__(name, reads=["domain", "subdomain", "functionalities"],
                         writes=["functionalities_used", "evolution", "tool_spec", "implementation", "tests"],
                         citations=[CITATION, *citations], **kwargs)
        self.functionalities_per_api, self.evolution_steps = int(functionalities_per_api), int(evolution_steps)
        self.indicators, self.n_tests, self.tests_see_implementation = chosen, int(n_tests), bool(tests_see_implementation)
        self.spec_template = spec_template or self.load_template("toolace_spec.jinja")
        self.evolve_template = evolve_template or self.load_template("toolace_evolve.jinja")
        self.implement_template = implement_template or self.load_template("toolace_implement.jinja")
        self.tests_template = tests_template or self.load_template("toolace_tests.jinja")
        self.read_columns(self.spec_template, self.evolve_template, self.implement_template, self.tests_template,
                          not_columns={"functionalities", "spec", "indicator", "name", "signature", "n_tests",
                                       "implementation"})

    async def process(self, record: dict[str, Any]):
        funcs = record.get("functionalities")
        if not isinstance(funcs, list) or not funcs:
            raise ValueError(f"toolace_synthesize {self.name!r}: column 'functionalities' must be a non-empty list")
        rng = random.Random(self.seed_for(record, "adaptation"))
        used = rng.sample(funcs, min(self.functionalities_per_api, len(funcs)))
        view = {**user_columns(record), "functionalities": used}
        response, entry = await self.call(record, chat(self.render(self.spec_template, view)), json_schema=SPEC_SCHEMA,
                                          salt="spec")
        spec, lineage, evolution = response.parsed, [entry], []
        for step in range(self.evolution_steps):
            indicator = rng.choice(self.indicators)
            prompt = self.render(self.evolve_template, {**view, "spec": spec_text(spec), "indicator": INDICATORS[indicator]})
            response, entry = await self.call(record, chat(prompt), json_schema=SPEC_SCHEMA, salt=f"evolve{step}")
            spec = response.parsed
            evolution.append(indicator)
            lineage.append(entry)
        code, tests, more = await self.implement_and_test(record, view, spec)
        row = {**record, "functionalities_used": used, "evolution": evolution, "tool_spec": spec,
               "implementation": code, "tests": tests}
        return adopt_rows(record, row, self.name, lineage + more)

    async def implement_and_test(self, record: dict[str, Any], view: dict[str, Any],
                                 spec: dict[str, Any]) -> tuple[str, list[str], list[dict[str, Any]]]:
        name = str(spec.get("name") or "")
        spec_view = {**view, "spec": spec_text(spec), "name": name, "signature": signature_text(spec),
                     "n_tests": self.n_tests}

        async def implement() -> tuple[str, list[str], dict[str, Any]]:
            (text,), entry = await self.texts(record, chat(self.render(self.implement_template, spec_view)),
                                              salt="implement")
            code, inline = split_solution_and_asserts(extract_code(text, entry_point=name or None) or "")
            return code.strip(), inline, entry

        async def write_tests(implementation: str | None) -> tuple[list[str], dict[str, Any]]:
            prompt = self.render(self.tests_template, {**spec_view, "implementation": implementation})
            (text,), entry = await self.texts(record, chat(prompt), salt="tests")
            return extract_asserts(text, limit=self.n_tests, entry_point=name or None), entry

        if self.tests_see_implementation:
            code, _, l1 = await implement()
            tests, l2 = await write_tests(code or None)
        else:
            (code, _, l1), (tests, l2) = await asyncio.gather(implement(), write_tests(None))
        return code, tests, [l1, l2]
