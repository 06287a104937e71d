"""The dataset card beside an export: ``README.md`` in Hugging Face's dataset-card style.

A YAML header (``configs`` with one config per export file in the folder, so ``load_dataset("user/repo",
"trl-dpo")`` works once the folder is pushed to the Hub; ``tags``, ``size_categories``, ``pretty_name``), then
one section per export: the file, its trainer and form, its columns and types, how to load it, the rows
written and skipped, the records per source model and role (``chosen_model``, ``rejected_model``, ``model``,
``response_model`` columns), the pair rules used (``pair_rule``), and the run's recipe, description and
citations (``card.md``, ``run.json``).

Exports of several formats usually share a folder (``RUN/export/``): each export rewrites only its own section
(marked by HTML comments) and keeps the others whose files still exist. A ``README.md`` that synthloom did not
write is left alone (the card is then not written, and the export says so).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..shards import atomic_write
from .run_dir import RunInfo

CARD_NAME = "README.md"
_START = "<!-- synthloom-export "
_END = "<!-- /synthloom-export -->"
_SECTION = re.compile(re.escape(_START) + r"(\{.*?\}) -->\n(.*?)\n" + re.escape(_END), re.DOTALL)

TITLES = {
    "trl-sft": "TRL SFTTrainer", "trl-dpo": "TRL DPOTrainer", "trl-kto": "TRL KTOTrainer",
    "trl-rm": "TRL RewardTrainer", "openai-chat": "OpenAI fine-tuning (chat)", "sharegpt": "ShareGPT",
    "alpaca": "Alpaca", "openai": "TRL SFTTrainer, tool calling", "hermes": "NousResearch Hermes function calling",
}
TAGS = {
    "trl-sft": ["trl", "sft"], "trl-dpo": ["trl", "dpo", "preference"], "trl-kto": ["trl", "kto", "preference"],
    "trl-rm": ["trl", "reward-modeling", "preference"], "openai-chat": ["openai", "sft"], "sharegpt": ["sharegpt"],
    "alpaca": ["alpaca"], "openai": ["trl", "tool-calling"], "hermes": ["function-calling"],
}
ROLES = ("response", "chosen", "rejected", "desirable", "undesirable")
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"))


@dataclass
class CardFacts:
    """One export, as its card section tells it."""

    fmt: str
    style: str | None
    info: RunInfo
    rows: int
    written: int
    skipped: str | None = None  # "3 without a prompt ...; 1 malformed"
    sources: Counter[tuple[str | None, str]] = field(default_factory=Counter)
    pair_rules: Counter[str] = field(default_factory=Counter)
    first_record: dict[str, Any] | None = None


def write_card(target: Path, facts: CardFacts) -> Path | None:
    """Write (or update) ``README.md`` beside the export ``target``; None when a README.md of someone else's is
    there (it is left as it is)."""
    card = target.parent / CARD_NAME
    sections: dict[str, tuple[dict[str, Any], str]] = {}
    if card.exists():
        text = card.read_text(encoding="utf-8", errors="replace")
        found = list(_SECTION.finditer(text))
        if not found:
            return None
        for match in found:
            try:
                meta = json.loads(match.group(1))
            except json.JSONDecodeError:
                continue
            name = meta.get("file")
            if isinstance(name, str) and name != target.name and (target.parent / name).is_file():
                sections[name] = (meta, match.group(2))
    meta = {"file": target.name, "format": facts.fmt, "records": facts.written}
    sections[target.name] = (meta, _section(target.name, facts))
    with atomic_write(card) as handle:
        handle.write(_render(sections, facts.info).encode("utf-8"))
    return card


def _render(sections: dict[str, tuple[dict[str, Any], str]], info: RunInfo) -> str:
    names = sorted(sections)
    configs: list[dict[str, Any]] = []
    for name in names:
        configs.append({"config_name": Path(name).stem, "data_files": [{"split": "train", "path": name}]})
    tags = ["synthetic", "synthloom"]
    for name in names:
        tags += [t for t in TAGS.get(str(sections[name][0].get("format")), []) if t not in tags]
    largest = max(int(sections[n][0].get("records") or 0) for n in names)
    size = next((label for limit, label in _SIZES if largest < limit), "n>10M")
    header = {"pretty_name": info.name, "tags": tags, "size_categories": [size], "configs": configs}
    parts = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {info.name} — exports for training", "",
             "Synthetic data made with [synthloom](https://pypi.org/project/synthloom/) and exported by "
             "`synthloom export` as JSON Lines, one file per format. Load a file with "
             "`datasets.load_dataset(\"json\", data_files=FILE, split=\"train\")`; on the Hugging Face Hub each file "
             "is a config of this dataset.", ""]
    for name in names:
        meta, body = sections[name]
        parts += [_START + json.dumps(meta, ensure_ascii=False) + " -->", body, _END, ""]
    return "\n".join(parts)


def _section(name: str, facts: CardFacts) -> str:
    info = facts.info
    title = TITLES.get(facts.fmt, facts.fmt) + (f", {facts.style}" if facts.style else "")
    made = f"**{info.name}**" + (f" (`{Path(info.recipe).name}`)" if info.recipe else "")
    status = f", status {info.status}" if info.status else ""
    lines = [f"## `{name}` — {title}", "",  # folder names only: the card may be published, local paths stay local
             f"From the run `{info.root.name}` of {made}{status}: {_plural(facts.written, 'record')} from its "
             f"{_plural(facts.rows, 'row')}"
             + (f"; skipped {facts.skipped}" if facts.skipped else "") + ".", ""]
    if facts.first_record is not None:
        lines += ["| column | type |", "|---|---|"]
        lines += [f"| `{k}` | {_kind(v)} |" for k, v in facts.first_record.items()]
        lines.append("")
    lines += ["```python", "from datasets import load_dataset", "",
              f'ds = load_dataset("json", data_files="{name}", split="train")', "```", ""]
    lines += _models_table(facts.sources, info.models)
    if facts.pair_rules:
        lines += ["### Pair rules", "", "| pair_rule | records |", "|---|---|"]
        lines += [f"| {rule} | {n} |" for rule, n in sorted(facts.pair_rules.items())]
        lines.append("")
    lines += ["### Recipe", ""]
    if info.description:
        lines += [info.description, ""]
    if info.citations:
        lines += ["Methods and citations:", ""] + [f"- {c}" for c in info.citations] + [""]
    elif not info.description:
        lines += ["The run's card.md gives no description or citations.", ""]
    return "\n".join(lines).rstrip()


def _models_table(sources: Counter[tuple[str | None, str]], specs: dict[str, str]) -> list[str]:
    roles = [r for r in ROLES if any(role == r for _, role in sources)]
    models = sorted({m for m, _ in sources}, key=lambda m: (m is None, m or ""))
    if not roles:
        return []
    lines = ["### Source models", "", "Records per model that wrote the text (— : the row records no model, e.g. a "
             "gold answer from the input).", "",
             "| model | spec | " + " | ".join(roles) + " |", "|---|---|" + "---|" * len(roles)]
    for model in models:
        spec = f"`{specs[model]}`" if model is not None and specs.get(model) else ""
        counts = " | ".join(str(sources.get((model, r), 0)) for r in roles)
        lines.append(f"| {model if model is not None else '—'} | {spec} | {counts} |")
    return [*lines, ""]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        if value and all(isinstance(m, dict) and "role" in m for m in value):
            return "list of chat messages (`role`, `content`)"
        if value and all(isinstance(m, dict) and "from" in m for m in value):
            return "list of turns (`from`, `value`)"
        return "list"
    return "object" if isinstance(value, dict) else "null"
