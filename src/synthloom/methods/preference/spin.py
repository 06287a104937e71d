"""SPIN: self-play fine-tuning pairs — the gold SFT answer against the model's own.

Chen, Z., Deng, Y., Yuan, H., Ji, K., Gu, Q. (2024). *Self-Play Fine-Tuning Converts Weak Language
Models to Strong Language Models*. ICML 2024, arXiv:2401.01335 (reference code: uclaml/SPIN).

At iteration t the current model p_θt answers every prompt of the SFT set; the human (gold)
answer is *chosen* and the model's own answer *rejected*, and a DPO-form loss against the previous
iterate trains p_θt+1 — the main player learns to tell gold from self-generated text until it can
no longer. The reference generation (``generate_vllm.py``) samples once per prompt at T = 1.0,
top_p = 1.0, max_tokens = 256 from the raw prompt ``### Instruction: {prompt}\\n\\n### Response:``
(``prompt_format: instruction_response``); ``chat`` (default) sends the prompt as a chat message
for chat models.

Rows: the pair (``pair_rule`` ``spin``; ``chosen_model`` None: the gold answer is data, not a
model's) with ``iteration`` (the t of p_θt, tagged on every row: the paper's iterations 0–3 each
regenerate with the newest checkpoint and train on that iteration's pairs, mixed with the previous
one's) and the generation's ``rejected_finish_reason`` (the reference keeps answers cut off at 256
tokens). A generation identical to the gold answer (nothing to learn) or empty is a rejected row.
"""

from __future__ import annotations

from typing import Any

from ...pipeline.model_step import ModelStep
from ...pipeline.step import Rejected
from ...records import adopt_rows
from .clair import same_text
from .pair_row import pair_columns, pair_row
from .prompt_columns import PromptColumns

CITATION = ("Chen et al. 2024, Self-Play Fine-Tuning Converts Weak Language Models to Strong Language Models (SPIN), "
            "arXiv:2401.01335")
PROMPT_FORMATS = ("chat", "instruction_response")


class SpinPairs(ModelStep):
    """The model's own answer to the prompt in column ``prompt`` as *rejected*, the gold answer in
    column ``response`` as *chosen*; rows tagged with ``iteration``. Identical or empty generations
    are rejected."""

    type_name = "spin"
    default_sampling = {"temperature": 1.0, "top_p": 1.0, "max_tokens": 256}
    dropped_options = ("n",)  # one self-generated answer per prompt, as the reference

    def __init__(self, name: str, *, prompt: str = "prompt", prompt_messages: str | None = None,
                 system_column: str | None = None, response: str = "response", iteration: int = 0,
                 prompt_format: str = "chat", **kwargs: Any) -> None:
        if prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"prompt_format must be 'chat' or 'instruction_response' (the reference's raw "
                             f"'### Instruction:' prompt for base models), not {prompt_format!r}")
        if int(iteration) < 0:
            raise ValueError(f"iteration must be >= 0 (0: the SFT model's own answers), not {iteration}")
        kwargs.setdefault("citations", [CITATION])
        self.columns = PromptColumns(prompt, prompt_messages, system_column)
        super().__init__(name, reads=[*self.columns.reads(), response],
                         writes=pair_columns(self.columns, "iteration", "rejected_finish_reason"), **kwargs)
        self.response_column = response
        self.iteration, self.prompt_format = int(iteration), prompt_format
        self.raw_prompt = self.load_template("spin_prompt.jinja") if prompt_format == "instruction_response" else None

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        messages = self.columns.messages(record)  # a row without a usable prompt is an error row
        gold = record.get(self.response_column)
        if not isinstance(gold, str) or not gold.strip():
            return Rejected(f"no gold answer in column {self.response_column!r}")
        salt = f"\x1fiteration:{self.iteration}"
        extra = {"iteration": self.iteration}
        if self.raw_prompt is not None:
            text = self.render(self.raw_prompt, {"prompt": self.columns.text(record).strip()})
            response, lineage = await self.call(record, text, raw=True, salt=salt, lineage=extra)
        else:
            response, lineage = await self.call(record, messages, salt=salt, lineage=extra)
        own = (response.text or "").replace("</s>", "").strip()
        if not own:
            return Rejected("the model's own answer is empty")
        if same_text(own, gold):
            return Rejected("the model's own answer is identical to the gold answer (nothing to learn)", score=1.0)
        finish = response.choices[0].finish_reason if response.choices else None
        row = pair_row(record, self.columns, chosen=gold.strip(), rejected=own, pair_rule="spin",
                       rejected_model=self.model_name, iteration=self.iteration, rejected_finish_reason=finish)
        return adopt_rows(record, row, self.name, [lineage])
