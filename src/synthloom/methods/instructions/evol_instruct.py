"""Evol-Instruct: make instructions harder, round after round, with the model itself.

Xu et al. 2023, "WizardLM: Empowering Large Language Models to Follow Complex Instructions"
(arXiv 2304.12244; reference code nlpxucan/WizardLM). Code variant: Luo et al. 2023, "WizardCoder:
Empowering Code Large Language Models with Evol-Instruct" (arXiv 2306.08568).

Each seed instruction goes through ``rounds`` (M, default 4) evolutions. A round picks one operator
(uniformly, from a seed derived from the record id and the round, so reruns pick the same):

* in-depth — the "Prompt Rewriter" prompt with one method: add constraints, deepen, concretize,
  increase reasoning steps, complicate the input (the paper's fifth operator; not in the released
  code, written here from the paper's description). The rewrite must stay reasonable, add only
  10 to 20 words and never mention "#The Given Prompt#";
* in-breadth — the "Prompt Creator" prompt: a new, rarer prompt in the same domain;
* code (``variant: code``, WizardCoder) — "increase the difficulty of the given programming test
  question" with: new constraints, a less common requirement, more reasoning steps, a piece of
  erroneous code as misdirection, higher time/space complexity requirements.

The evolved instruction is answered, then the paper's elimination rules decide whether the
evolution failed: (1) no information gain over its parent — an LLM "Equal / Not Equal" judgement
(and an exact copy counts as equal); (2) the response contains "sorry" and is shorter than 80 words;
(3) the response is only punctuation and stop words; (4) the instruction copies prompt words
("given prompt", "#Rewritten Prompt#", ...). A failed evolution is kept out of the pool: the next
round evolves its parent again (as in the paper). Every round yields a row with its lineage —
operator, round, parent instruction and parent id, the operator path from the seed — and
``evol_status`` (``ok`` or the failed rule); :class:`EvolEliminate` (``type: evol_eliminate``)
right after turns failed evolutions into rejected rows that name the rule.
"""

from __future__ import annotations

import random
import re
import string
from typing import Any

from ...curate.judges.constrained import verdict_schema
from ...pipeline.model_step import ModelStep
from ...pipeline.step import FilterStep, Rejected
from ...records import ID, add_lineage, derive_id

CITATION = ("Xu et al. 2023, WizardLM: Empowering Large Language Models to Follow Complex Instructions, "
            "arXiv:2304.12244")
CODE_CITATION = ("Luo et al. 2023, WizardCoder: Empowering Code Large Language Models with Evol-Instruct, "
                 "arXiv:2306.08568")

DEPTH_METHODS = {
    "add_constraints": "Please add one more constraints/requirements into #The Given Prompt#",
    "deepen": "If #The Given Prompt# contains inquiries about certain issues, the depth and breadth of the "
              "inquiry can be increased.",
    "concretize": "Please replace general concepts with more specific concepts.",
    "increase_reasoning": "If #The Given Prompt# can be solved with just a few simple thinking processes, you can "
                          "rewrite it to explicitly request multiple-step reasoning.",
    "complicate_input": "Please add a piece of structured input that the prompt must work with, such as a table, "
                        "a code snippet, XML or JSON data, an SQL schema or a formula.",
}
CODE_METHODS = {
    "code_constraints": "Add new constraints and requirements to the original problem, adding approximately 10 "
                        "additional words.",
    "code_specific_requirement": "Replace a commonly used requirement in the programming task with a less common "
                                 "and more specific one.",
    "code_reasoning": "If the original problem can be solved with only a few logical steps, please add more "
                      "reasoning steps.",
    "code_debugging": "Provide a piece of erroneous code as a reference to increase misdirection.",
    "code_complexity": "Propose higher time or space complexity requirements, but please refrain from doing so "
                       "frequently.",
}
OPERATORS = [*DEPTH_METHODS, "breadth"]
CODE_OPERATORS = list(CODE_METHODS)
#: the prompt template of each operator
OPERATOR_TEMPLATES = {**dict.fromkeys(DEPTH_METHODS, "evol_instruct_depth.jinja"), "breadth": "evol_instruct_breadth.jinja",
                      **dict.fromkeys(CODE_METHODS, "evol_instruct_code.jinja")}
LEAK_PHRASES = ("given prompt", "rewritten prompt", "created prompt", "#the given prompt#", "#rewritten prompt#",
                "#created prompt#", "#given prompt#")
_LABEL = re.compile(r"^\s*(?:\*\*|#+\s*)?#?\s*(?:the\s+)?(?:rewritten|created|new)\s+prompt\s*#?\s*:?\s*(?:\*\*)?\s*",
                    re.IGNORECASE)
#: English stop words (the usual NLTK-style list) for the "only punctuation and stop words" rule
STOP_WORDS = frozenset("""
    a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
    few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers
    herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more
    most mustn't my myself no nor not of off on once only or other ought our ours ourselves out over own same
    shan't she she'd she'll she's should shouldn't so some such than that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've this those through to too under
    until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where where's which
    while who who's whom why why's will with won't would wouldn't you you'd you'll you're you've your yours
    yourself yourselves ok okay yes
""".split())


def clean_evolved(text: str) -> str:
    """The model's rewrite without a leading "#Rewritten Prompt#:"-style label and outer quotes."""
    text = _LABEL.sub("", text.strip(), count=1).strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def leaked_prompt_words(instruction: str) -> str | None:
    """Rule 4: the first prompt phrase the evolved instruction copies, or ``None``."""
    low = instruction.lower()
    return next((p for p in LEAK_PHRASES if p in low), None)


#: the equality judge's verdict alone, where the backend can enforce a schema (read by parse_equality)
EQUALITY_SCHEMA = verdict_schema("verdict", ["Not Equal", "Equal"], reason_key=None)


def parse_equality(text: str) -> bool | None:
    """The equality judge's verdict: ``True`` for "Equal", ``False`` for "Not Equal", else ``None``."""
    low = text.strip().lower()
    if re.search(r"\bnot\s+equal\b|\bunequal\b|\bdifferent\b", low):
        return False
    if re.search(r"\bequal\b", low):
        return True
    return None


def is_sorry_short(response: str, max_words: int = 80) -> bool:
    """Rule 2: the response contains "sorry" and has fewer than ``max_words`` words."""
    return "sorry" in response.lower() and len(response.split()) < max_words


def is_only_punctuation_and_stop_words(response: str) -> bool:
    """Rule 3: nothing but punctuation and stop words (an empty response counts)."""
    words = [w.strip(string.punctuation + "“”‘’…") for w in response.lower().split()]
    return all(not w or w in STOP_WORDS for w in words)


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


class EvolInstruct(ModelStep):
    """Evolves each ``column`` instruction for ``rounds`` rounds (WizardLM's Evol-Instruct, Xu et al.
    2023; ``variant: code`` uses WizardCoder's operators, Luo et al. 2023). One output row per round:
    ``instruction`` (the evolution), ``response``, ``parent_instruction``, ``parent_id``,
    ``root_instruction``, ``evol_operator``, ``evol_round``, ``evol_path`` and ``evol_status``
    (``ok`` or the elimination rule that failed it; follow with ``evol_eliminate``).
    ``equality_check=False`` skips the LLM judge (an exact copy still fails rule 1). ``seed``
    seeds the choice of operators."""

    type_name = "evol_instruct"
    takes_sampling = False

    def __init__(self, name: str, *, column: str = "instruction", rounds: int = 4, variant: str = "general",
                 operators: list[str] | None = None, model: str = "default", judge_model: str | None = None,
                 response_model: str | None = None, equality_check: bool = True, respond: bool = True,
                 temperature: float = 0.7, max_tokens: int = 512, response_temperature: float = 0.7,
                 response_max_tokens: int = 1024, sorry_max_words: int = 80, seed: int = 0,
                 inputs: list[str] | None = None) -> None:
        if variant not in ("general", "code"):
            raise ValueError(f"variant must be 'general' or 'code', not {variant!r}")
        ops = list(operators) if operators else (OPERATORS if variant == "general" else CODE_OPERATORS)
        unknown = [o for o in ops if o not in OPERATOR_TEMPLATES]
        if unknown:
            raise ValueError(f"unknown operator(s) {unknown}; general: {', '.join(OPERATORS)}; "
                             f"code: {', '.join(CODE_OPERATORS)}")
        if rounds < 1:
            raise ValueError("rounds must be >= 1")
        writes = ["instruction", "parent_instruction", "parent_id", "root_instruction", "evol_operator", "evol_round",
                  "evol_path", "evol_status"] + (["response"] if respond else [])
        super().__init__(name, model=model, inputs=inputs or (), reads=[column], writes=writes,
                         citations=[CITATION] + ([CODE_CITATION] if variant == "code" else []),
                         temperature=temperature, max_tokens=max_tokens)
        self.judge_model, self.response_model = judge_model or model, response_model or model
        self.models = sorted({model, self.judge_model if equality_check else model,
                              self.response_model if respond else model})
        self.column, self.rounds, self.operators = column, rounds, ops
        self.equality_check, self.respond = equality_check, respond
        self.response_temperature, self.response_max_tokens = response_temperature, response_max_tokens
        self.sorry_max_words, self.seed = sorry_max_words, seed
        self.templates = {f: self.load_template(f) for f in sorted({OPERATOR_TEMPLATES[o] for o in ops})}
        self.equal_template = self.load_template("evol_instruct_equal.jinja") if equality_check else ""

    def pick_operator(self, record_id: str, round_no: int) -> str:
        return random.Random(f"{self.seed}:{record_id}:{round_no}").choice(self.operators)

    def evolution_prompt(self, operator: str, instruction: str) -> str:
        """The prompt that applies ``operator`` (one of the step's operators) to ``instruction``."""
        if operator not in self.operators:
            raise ValueError(f"unknown Evol-Instruct operator {operator!r} for step {self.name!r}; its operators: "
                             f"{', '.join(self.operators)}")
        method = DEPTH_METHODS.get(operator) or CODE_METHODS.get(operator)
        return self.render(self.templates[OPERATOR_TEMPLATES[operator]], {"instruction": instruction, "method": method})

    async def evolve_once(self, record: dict[str, Any], parent: str, operator: str, round_no: int,
                          lineage: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One evolution of ``parent``: returns the new columns and the lineage entries of its calls
        (each with ``lineage`` and the name of the call)."""
        resp, entry = await self.call(record, self.evolution_prompt(operator, parent), salt=f":{round_no}",
                                      lineage={**lineage, "call": "evolve"})
        calls = [entry]
        evolved = clean_evolved(resp.text)
        cols: dict[str, Any] = {"instruction": evolved}
        status = "ok"
        leak = leaked_prompt_words(evolved)
        if not evolved:
            status = "empty: the model returned no instruction"
        elif leak:
            status = f"copied_prompt_words: the instruction contains {leak!r}"
        elif _normal(evolved) == _normal(parent):
            status = "no_information_gain: the instruction is a copy of its parent"
        elif self.equality_check:
            prompt = self.render(self.equal_template, {"first": parent, "second": evolved})
            judged, entry = await self.call_constrained(record, prompt, json_schema=EQUALITY_SCHEMA,
                                                        model=self.judge_model, temperature=0.0, max_tokens=16,
                                                        lineage={**lineage, "call": "equality_check"})
            calls.append(entry)
            if parse_equality(judged.text):
                status = "no_information_gain: the judge found it equal to its parent"
        if self.respond and status == "ok":
            answered, entry = await self.call(record, evolved, model=self.response_model, salt=f":{round_no}>",
                                              temperature=self.response_temperature,
                                              max_tokens=self.response_max_tokens,
                                              lineage={**lineage, "call": "respond"})
            calls.append(entry)
            response = answered.text.strip()
            cols["response"] = response
            if is_sorry_short(response, self.sorry_max_words):
                status = f"sorry_short_response: says sorry in {len(response.split())} words (< {self.sorry_max_words})"
            elif is_only_punctuation_and_stop_words(response):
                status = "stopwords_only_response: the response is only punctuation and stop words"
        elif self.respond:
            cols["response"] = None
        cols["evol_status"] = status
        return cols, calls

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        root = str(record[self.column]).strip()
        record_id = record.get(ID, "")
        current, current_id, path = root, record_id, []
        out = []
        for round_no in range(1, self.rounds + 1):
            operator = self.pick_operator(record_id, round_no)
            cols, calls = await self.evolve_once(record, current, operator, round_no, {
                "parent": current_id, "operator": operator, "round": round_no})
            ok = cols["evol_status"] == "ok"
            child_id = derive_id(record_id, self.name, round_no - 1)
            child = {**record, **cols, ID: child_id, "parent_instruction": current, "parent_id": current_id,
                     "root_instruction": root, "evol_operator": operator, "evol_round": round_no,
                     "evol_path": [*path, operator] if ok else list(path)}
            for entry in calls:
                add_lineage(child, entry)
            out.append(child)
            if ok:  # the evolution joins the pool; a failed one leaves its parent to evolve again
                current, current_id, path = cols["instruction"], child_id, child["evol_path"]
        return out


class EvolEliminate(FilterStep):
    """Rejects the evolutions :class:`EvolInstruct` marked as failed (WizardLM's elimination rules);
    the rejected row's reason is the rule and its detail, and column ``evol_rejected_filter`` names
    the rule."""

    type_name = "evol_eliminate"

    def __init__(self, name: str, *, status_column: str = "evol_status", inputs: list[str] | None = None) -> None:
        super().__init__(name, inputs=inputs or (), reads=[status_column], citations=[CITATION])
        self.status_column = status_column

    def check(self, record: dict[str, Any]) -> bool | Rejected:
        status = record.get(self.status_column)
        if status == "ok":
            return True
        record["evol_rejected_filter"] = str(status).split(":", 1)[0]
        return Rejected(str(status))
