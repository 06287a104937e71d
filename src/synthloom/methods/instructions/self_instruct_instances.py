"""Self-Instruct, second half: classification identification and instance generation.

Wang et al. 2022, "Self-Instruct: Aligning Language Models with Self-Generated Instructions"
(arXiv 2212.10560; reference code yizhongw/self-instruct).

* :class:`SelfInstructClassify` (``type: self_instruct_classify``) asks a few-shot Yes/No prompt
  "Can the following task be regarded as a classification task with finite output labels?" and
  writes ``is_classification`` (greedy, at most a few tokens).
* :class:`SelfInstructInstances` (``type: self_instruct_instances``) generates instances greedily:
  *output-first* for classification tasks (a class label, then an input for it, so labels are not
  skewed toward one class) and *input-first* otherwise. The answer is parsed as in the paper's
  ``prepare_for_finetuning.py`` and the instance filters are applied: the last instance is dropped
  when the generation was truncated; instances whose input equals the output, whose output is
  empty, whose input or output ends with ":" (an unfinished generation) or that are longer than
  ``max_instance_words`` are removed; exact duplicates are removed; a task whose same input has
  different outputs is rejected as a whole. A task left with no instance is rejected naming the
  filters that emptied it.
"""

from __future__ import annotations

import re
from typing import Any

from ...llm.types import Response
from ...pipeline.llm_step import LLMStep
from ...pipeline.step import Rejected
from .self_instruct import CITATION

_OUTPUT = re.compile(r"Output\s*\d*\s*:")
_INPUT = re.compile(r"Input\s*\d*\s*:")
_INPUT_PREFIX = re.compile(r"^Input\s*\d*\s*:")
_EXAMPLE = re.compile(r"Example\s?\d*\.?")
INSTANCE_FILTERS = ("input_equals_output", "empty_output", "ends_with_colon", "too_long", "duplicate", "truncated")


def parse_yes_no(text: str) -> bool | None:
    """``True``/``False`` for an answer starting with yes/no (after spaces and punctuation)."""
    word = re.sub(r"^[\W_]+", "", text.strip().lower())
    if word.startswith("yes"):
        return True
    if word.startswith("no"):
        return False
    return None


class SelfInstructClassify(LLMStep):
    """Decides whether each ``instruction`` is a classification task (few-shot Yes/No prompt of
    Self-Instruct, Wang et al. 2022). Writes ``is_classification`` (an answer that is neither yes nor
    no counts as no, as in the paper) and ``classification_answer`` (the model's raw answer)."""

    type_name = "self_instruct_classify"

    def __init__(self, name: str, *, column: str = "instruction", model: str = "default", raw: bool = False,
                 max_tokens: int = 3, temperature: float = 0.0, stop: str | list[str] | None = ("\n", "Task"),
                 **sampling: Any) -> None:
        super().__init__(name, model=model, raw=raw, max_tokens=max_tokens, temperature=temperature, stop=stop,
                         reads=[column], writes=["is_classification", "classification_answer"],
                         citations=[CITATION], **sampling)
        self.column = column
        self.template = self.load_template("self_instruct_classify.jinja")

    def prompt(self, record: dict[str, Any]) -> str:
        return self.render(self.template, {"instruction": str(record[self.column]).strip()})

    def parse(self, record: dict[str, Any], response: Response) -> dict[str, Any]:
        answer = response.text.strip()
        return {**record, "is_classification": bool(parse_yes_no(answer)), "classification_answer": answer}


def parse_input_output(text: str) -> tuple[str, str]:
    """One ``Input: ... Output: ...`` block -> (input, output); no "Output:" means all output."""
    if _OUTPUT.search(text):
        parts = _OUTPUT.split(text)
        inst_input, inst_output = parts[0].strip(), parts[1].strip()
    else:
        inst_input, inst_output = "", text.strip()
    if _INPUT.search(inst_output):  # the model went on to the next example
        inst_output = _INPUT.split(inst_output)[0].strip()
    return _INPUT_PREFIX.sub("", inst_input).strip(), inst_output


def parse_generation_instances(text: str) -> list[tuple[str, str]]:
    """Input-first answers: "Example 1 / Input: / Output:" blocks, or a single "Output:" block.
    Text with neither gives no instance."""
    text = text.strip()
    if _EXAMPLE.search(text):
        blocks = [b.strip() for b in _EXAMPLE.split(text) if b.strip()]
        return [parse_input_output(b) for b in blocks]
    if _OUTPUT.search(text):
        return [parse_input_output(text)]
    return []


def parse_classification_instances(text: str) -> list[tuple[str, str]]:
    """Output-first answers: "Class label: X" then the input on the next lines (or none)."""
    if "Class label:" not in text:
        return []
    out = []
    for block in text.split("Class label:")[1:]:
        label, _, rest = block.strip().partition("\n")
        out.append((rest.strip(), label.strip()))
    return out


def filter_instances(
    instances: list[tuple[str, str]], *, truncated: bool = False, max_words: int | None = 350
) -> tuple[list[dict[str, str]], dict[str, int], str | None]:
    """Apply the paper's instance filters. Returns (kept instances, per-filter drop counts, a
    reason to reject the whole task or ``None``)."""
    counts = dict.fromkeys(INSTANCE_FILTERS, 0)
    if truncated and instances:
        instances = instances[:-1]
        counts["truncated"] = 1
    seen: dict[str, str] = {}
    for inp, out in instances:
        if inp and inp in seen and seen[inp] != out:
            return [], counts, f"conflicting_instances: the input {inp[:60]!r} has different outputs"
        seen.setdefault(inp, out)
    kept: list[dict[str, str]] = []
    unique: set[tuple[str, str]] = set()
    for inp, out in instances:
        if inp == out:
            counts["input_equals_output"] += 1
        elif not out:
            counts["empty_output"] += 1
        elif inp.strip().endswith(":") or out.strip().endswith(":"):
            counts["ends_with_colon"] += 1
        elif max_words is not None and len(inp.split()) + len(out.split()) > max_words:
            counts["too_long"] += 1
        elif (inp, out) in unique:
            counts["duplicate"] += 1
        else:
            unique.add((inp, out))
            kept.append({"input": inp, "output": out})
    if not kept:
        why = ", ".join(f"{k}={v}" for k, v in counts.items() if v) or "the answer had no parseable instance"
        return [], counts, f"no_valid_instances: {why}"
    return kept, counts, None


class SelfInstructInstances(LLMStep):
    """Generates input/output instances for each task (Self-Instruct, Wang et al. 2022):
    output-first for ``is_classification`` tasks, input-first otherwise, greedy. Writes
    ``instances`` (list of ``{input, output}``) and ``instance_drops`` (per-filter counts); rejects
    a task whose instances conflict or are all filtered out (reason starts with the filter name)."""

    type_name = "self_instruct_instances"

    def __init__(self, name: str, *, column: str = "instruction", model: str = "default", raw: bool = False,
                 max_instances: int | None = None, max_instance_words: int | None = 350,
                 max_tokens: int = 350, temperature: float = 0.0, stop: str | list[str] | None = ("Example 16", "Task:"),
                 **sampling: Any) -> None:
        super().__init__(name, model=model, raw=raw, max_tokens=max_tokens, temperature=temperature, stop=stop,
                         reads=[column, "is_classification"], writes=["instances", "instance_drops"],
                         citations=[CITATION], **sampling)
        self.column = column
        self.max_instances = max_instances
        self.max_instance_words = max_instance_words
        self.output_first = self.load_template("self_instruct_output_first.jinja")  # classification tasks
        self.input_first = self.load_template("self_instruct_input_first.jinja")

    def prompt(self, record: dict[str, Any]) -> str:
        source = self.output_first if record.get("is_classification") else self.input_first
        text = self.render(source, {"instruction": str(record[self.column]).strip()})
        return text + "\n" if self.raw else text

    def constrained_schema(self) -> dict[str, Any] | None:
        """``{"instances": [{"input", "output"}]}`` (1 to 5) where the backend can enforce a schema, so a
        small model under a grammar still gives instances; raw completions keep the paper's format."""
        if self.raw:
            return None
        text = {"type": "string", "maxLength": 400}
        item = {"type": "object", "properties": {"input": text, "output": {**text, "minLength": 1}},
                "required": ["input", "output"], "additionalProperties": False}
        return {"type": "object", "properties": {"instances": {"type": "array", "items": item, "minItems": 1,
                                                               "maxItems": 5}},
                "required": ["instances"], "additionalProperties": False}

    def parse(self, record: dict[str, Any], response: Response) -> dict[str, Any] | Rejected:
        choice = response.choices[0]
        text = choice.text
        truncated = choice.finish_reason == "length"
        if isinstance(response.parsed, dict):
            parsed = [(str(i["input"]).strip(), str(i["output"]).strip()) for i in response.parsed["instances"]]
        elif record.get("is_classification"):
            parsed = parse_classification_instances(text)
        else:
            parsed = parse_generation_instances(text)
        kept, counts, reason = filter_instances(parsed, truncated=truncated, max_words=self.max_instance_words)
        if reason is not None:
            return Rejected(reason)
        if self.max_instances is not None:
            kept = kept[: self.max_instances]
        return {**record, "instances": kept, "instance_drops": counts}
