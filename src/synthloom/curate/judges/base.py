"""What every judge step shares: templates, column roles, sampling.

A judge prompt is a Jinja2 template over *roles* — ``instruction``, ``input``, ``response``,
``reference`` (pairwise: ``response_a``, ``response_b``) — each filled from the record column the step
names (``instruction: question`` reads column ``question``), plus the scale and criteria (``lo``, ``hi``,
``criteria``, ``score_descriptions``, ``aspects``). A custom ``template`` may also use any record
column by name; the step then reads it (checked before the run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...pipeline.config import SAMPLING_KEYS
from ...pipeline.model_step import ModelStep, chat
from ...pipeline.templates import TemplateError, template_columns

__all__ = ["PromptBuilder", "judge_sampling", "judge_template", "number"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
CONTEXT_NAMES = frozenset({"lo", "hi", "criteria", "score_descriptions", "aspects"})


def judge_template(step: ModelStep, template: str, where: str) -> str:
    """``template`` is Jinja2 source or the name of a packaged template (``pointwise``, ``alpagasus``...),
    loaded through the step (so its text is part of the step's fingerprint)."""
    if "{{" in template or "{%" in template or "\n" in template:
        return template
    if (TEMPLATE_DIR / f"{template}.jinja").is_file():
        return step.load_template(f"{TEMPLATE_DIR.name}/{template}.jinja")
    names = sorted(p.stem for p in TEMPLATE_DIR.glob("*.jinja"))
    raise ValueError(f"{where}: template {template!r} is neither Jinja2 source (with {{{{ ... }}}}) nor a packaged "
                     f"template ({', '.join(names)})")


def judge_sampling(where: str, config: dict[str, Any], *, max_tokens: int, want_logprobs: bool) -> dict[str, Any]:
    """A judge's sampling options from its ``config``: greedy (``temperature`` 0) and the rubric's
    ``max_tokens`` unless set, one answer per record, the top-20 logprobs when the score needs them."""
    given = {k: config.get(k) for k in SAMPLING_KEYS}
    n, logprobs, top_logprobs = given["n"], given["logprobs"], given["top_logprobs"]
    if n not in (None, 1):
        raise ValueError(f"{where}: n must be 1 (a judge asks once per record); use judge_jury for several opinions")
    if top_logprobs is not None and not (isinstance(top_logprobs, int) and 1 <= top_logprobs <= 20):
        raise ValueError(f"{where}: top_logprobs must be between 1 and 20, got {top_logprobs!r}")
    out = {"temperature": 0.0, "max_tokens": max_tokens}
    out.update({k: v for k, v in given.items() if v is not None and k not in ("n", "logprobs", "top_logprobs")})
    if want_logprobs or logprobs:
        out.update(logprobs=True, top_logprobs=top_logprobs or 20)
    return out


def number(x: float) -> int | float:
    """``5.0`` -> ``5`` so a template says "1 to 5", not "1.0 to 5.0"."""
    return int(x) if float(x).is_integer() else float(x)


class PromptBuilder:
    """A judge's prompt: the role columns, scale and criteria rendered into its template."""

    def __init__(self, template: str, system: str | None, roles: dict[str, str | None], context: dict[str, Any],
                 *, raw: bool, where: str) -> None:
        self.template = template
        self.system = system
        self.roles = roles
        self.context = context
        self.raw = raw
        try:
            used = set(template_columns(template)) | (set(template_columns(system)) if system else set())
        except TemplateError as e:
            raise ValueError(f"{where}: {e}") from None
        missing = sorted(r for r in used if r in roles and roles[r] is None and r not in ("input", "reference"))
        if missing:
            raise ValueError(f"{where}: the template uses {missing} but no column is set for it; "
                             + ", ".join(f"set `{m}: <column>`" for m in missing))
        self.reads = {roles[r] for r in used if r in roles and roles[r]} | (used - set(roles) - CONTEXT_NAMES)
        # columns named for roles the template does not use are still read when set explicitly
        self.reads |= {c for r, c in roles.items() if c and r in ("input", "reference")}

    def values(self, record: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        ctx = {**record, **self.context}
        for role, column in self.roles.items():
            ctx[role] = record.get(column) if column else None
        if overrides:
            ctx.update(overrides)
        return ctx

    def messages(self, step: ModelStep, record: dict[str, Any],
                 overrides: dict[str, Any] | None = None) -> list[dict[str, str]] | str:
        """The chat messages (a raw completion prompt for a ``raw`` template) for ``record``."""
        view = self.values(record, overrides)
        text = step.render(self.template, view)
        if self.raw:
            return text
        return chat(text, step.render(self.system, view) if self.system else None)
