"""Human-review files for the rows CoAnnotating routes to people: Argilla and Label Studio imports.

* ``argilla_records.json`` — a JSON list of Argilla 2.x records in the shape ``rg.Record.to_dict()``
  writes and ``rg.Record.from_dict()`` reads: ``{"id", "fields": {column: text}, "metadata":
  {"label_entropy", "label_agreement"}, "suggestions": {"label": {"value", "score", "agent"}},
  "responses": {}, "vectors": {}, "status": "pending"}``. The AI's label is a *suggestion* (its score = the majority's
  share of the votes), so reviewers see it pre-filled and confirm or correct it.
* ``label_studio_tasks.json`` — a JSON list of Label Studio tasks (its "basic JSON format" with
  pre-annotations): ``{"data": {column: text, ...}, "predictions": [{"model_version", "score",
  "result": [{"from_name": "label", "to_name": <first field>, "type": "choices", "value":
  {"choices": [label]}}]}]}``; ``label_studio_config.xml`` is the labelling interface they fit
  (one ``<Text>`` per field, one single-choice ``<Choices name="label">``).
* ``README.md`` — the import commands for both tools, with this run's labels and fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import orjson

from ...io.shards import atomic_write, read_shards
from ...records import ID

QUESTION = "label"  # the Argilla question / Label Studio control the reviewers answer


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _suggestion(row: dict[str, Any], label: str) -> tuple[str, float | None, str]:
    agreement = row.get(f"{label}_agreement")
    return (str(row.get(label)), None if agreement is None else round(float(agreement), 6),
            str(row.get(f"{label}_model") or "synthloom"))


def argilla_record(row: dict[str, Any], *, label: str, fields: list[str]) -> dict[str, Any]:
    """One review row as an Argilla 2.x record dict (``rg.Record.from_dict`` reads it)."""
    value, score, agent = _suggestion(row, label)
    entropy, agreement = row.get(f"{label}_entropy"), row.get(f"{label}_agreement")
    metadata = {k: float(v) for k, v in (("label_entropy", entropy), ("label_agreement", agreement)) if v is not None}
    return {"id": str(row.get(ID)), "fields": {f: _text(row.get(f)) for f in fields}, "metadata": metadata,
            "suggestions": {QUESTION: {"value": value, "score": score, "agent": agent}}, "responses": {}, "vectors": {},
            "status": "pending"}


def label_studio_task(row: dict[str, Any], *, label: str, fields: list[str]) -> dict[str, Any]:
    """One review row as a Label Studio task with the AI label as a prediction."""
    value, score, agent = _suggestion(row, label)
    data = {f: _text(row.get(f)) for f in fields}
    data.update(synthloom_id=str(row.get(ID)), ai_label=value, label_entropy=row.get(f"{label}_entropy"),
                review_reason=row.get("_reason"))
    prediction = {"model_version": agent, "result": [{"id": "ai-label", "from_name": QUESTION, "to_name": fields[0],
                                                      "type": "choices", "value": {"choices": [value]}}]}
    if score is not None:
        prediction["score"] = score
    return {"data": data, "predictions": [prediction]}


def label_studio_config(fields: list[str], labels: list[str]) -> str:
    """The Label Studio labelling interface the tasks fit."""
    texts = "\n".join(f"  <Header value={quoteattr(f)}/>\n  <Text name={quoteattr(f)} value={quoteattr('$' + f)}/>"
                      for f in fields)
    choices = "\n".join(f"    <Choice value={quoteattr(lab)}/>" for lab in labels)
    return (f"<View>\n{texts}\n  <Choices name={quoteattr(QUESTION)} toName={quoteattr(fields[0])} choice=\"single\" "
            f"showInline=\"true\">\n{choices}\n  </Choices>\n</View>\n")


def review_labels(rows: list[dict[str, Any]], label: str) -> list[str]:
    """The label space seen in the rows' ``<label>_votes`` (first-seen order), plus their labels."""
    out: list[str] = []
    for row in rows:
        votes = row.get(f"{label}_votes")
        for lab in [*(votes if isinstance(votes, dict) else []), row.get(label)]:
            if isinstance(lab, str) and lab not in out:
                out.append(lab)
    return out


def _readme(folder: Path, fields: list[str], labels: list[str], count: int) -> str:
    text_fields = ", ".join(f'rg.TextField(name="{f}")' for f in fields)
    return f"""# Human review: {count} rows the AI labelled with low confidence

Written by `coannotate_route` (CoAnnotating, Li et al. 2023, arXiv:2310.15638). Each row carries the AI's
majority label as a suggestion / prediction, scored by the share of the votes that gave it.
Labels: {", ".join(labels) or "(none)"}. Fields: {", ".join(fields)}.

## Argilla (2.x)

```python
import json
import argilla as rg

client = rg.Argilla(api_url="http://localhost:6900", api_key="YOUR_API_KEY")
settings = rg.Settings(
    fields=[{text_fields}],
    questions=[rg.LabelQuestion(name="{QUESTION}", labels={json.dumps(labels)})],
    metadata=[rg.FloatMetadataProperty(name="label_entropy"), rg.FloatMetadataProperty(name="label_agreement")],
)
dataset = rg.Dataset(name="coannotating-review", settings=settings, client=client)
dataset.create()
records = json.load(open("{folder / 'argilla_records.json'}"))
dataset.records.log([rg.Record.from_dict(r) for r in records])
```

## Label Studio

Create a project whose labelling interface is `label_studio_config.xml` (Settings → Labeling Interface →
Code), then import `label_studio_tasks.json`: Import in the UI, or through the API:

```bash
curl -H "Authorization: Token YOUR_TOKEN" -X POST "http://localhost:8080/api/projects/PROJECT_ID/import" \\
     -F "file=@{folder / 'label_studio_tasks.json'}"
```

The AI labels appear as predictions; reviewers accept or correct them.
"""


def _dump(path: Path, value: Any) -> None:
    with atomic_write(path) as f:
        f.write(value.encode() if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")


def write_review_files(out: Path, *, step: str, label: str, fields: list[str], review_dir: str = "review") -> Path:
    """Write the review files for the rows step ``step`` rejected in the run ``out``; returns the folder."""
    source = out / "rejected" / step
    rows = sorted(read_shards(source), key=lambda r: str(r.get(ID))) if source.is_dir() else []
    folder = out / review_dir
    folder.mkdir(parents=True, exist_ok=True)
    labels = review_labels(rows, label)
    _dump(folder / "argilla_records.json", [argilla_record(r, label=label, fields=fields) for r in rows])
    _dump(folder / "label_studio_tasks.json", [label_studio_task(r, label=label, fields=fields) for r in rows])
    _dump(folder / "label_studio_config.xml", label_studio_config(fields, labels))
    _dump(folder / "README.md", _readme(folder, fields, labels, len(rows)))
    return folder
