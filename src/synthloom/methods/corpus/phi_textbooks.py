"""phi-style synthetic textbooks: sections of a Python textbook written for a topic list, each for a
target audience and in a style drawn per topic.

Gunasekar, S., Zhang, Y., Aneja, J., Mendes, C. C. T., Del Giorno, A., Gopi, S., Javaheripi, M.,
Kauffmann, P., de Rosa, G., Saarikivi, O., Salim, A., Shah, S., Behl, H. S., Wang, X., Bubeck, S.,
Eldan, R., Kalai, A. T., Lee, Y. T., Li, Y. (2023). *Textbooks Are All You Need*. arXiv:2306.11644.

phi-1 was pre-trained on about 1B tokens of GPT-3.5-written "textbook" text (interleaved prose and
Python code that teach reasoning and basic algorithmic skills) beside filtered web code, and
fine-tuned on ~180M tokens of *CodeExercises* (function stubs with docstrings, completed by the model;
:mod:`.phi_textbooks_exercises`). Its diversity came from "providing constraints on topics and target
audience of the generated textbook"; the prompts themselves were not released. Here a topic list
(``topic`` and ``subtopic`` per row; the ``phi-textbooks`` recipe bundles 60 written for synthloom)
sets the subject, and each row gets an audience and a style drawn from its id (a topic listed twice
gets two draws).

:class:`PhiTextbook` (``phi_textbook``) writes one section per row (``phi_textbook.jinja``); a reply
cut off by ``max_tokens``, refused, or (with ``require_code``) without a Python code block is
rejected: phi's textbooks always interleave code with the text.
"""

from __future__ import annotations

from typing import Any

from ...pipeline.model_step import ModelStep, chat, reply_text
from ...pipeline.step import Rejected
from ...records import ID, adopt_rows
from ..code.extract import code_blocks
from .cosmopedia import draw_pairs
from .wrap import strip_preamble

CITATION = "Gunasekar et al. 2023, Textbooks Are All You Need, arXiv:2306.11644"
AUDIENCES = ("complete beginners who have never programmed", "high school students", "college students in a first "
             "computer science course", "professional developers new to Python")
STYLES = ("a clear explanation followed by worked examples", "a step-by-step tutorial that builds one program",
          "questions to the reader, each answered with code", "one running real-world example developed throughout")


def text_list(values: list[str] | None, default: tuple[str, ...], what: str, where: str) -> tuple[str, ...]:
    """``values`` (``default`` when None) as a tuple of non-empty strings; anything else is refused."""
    chosen = tuple(default if values is None else values)
    if not chosen or not all(isinstance(v, str) and v.strip() for v in chosen):
        raise ValueError(f"{where}: {what} must be a non-empty list of non-empty strings, not {values!r}")
    return tuple(dict.fromkeys(v.strip() for v in chosen))


class PhiTextbook(ModelStep):
    """Writes one textbook section on the row's ``subtopic`` (within ``topic``) into ``output``, for an
    audience from ``audiences`` in a style from ``styles`` drawn from the row's id (written to ``audience``
    and ``style``). Replies cut off by ``max_tokens``, refused, or without a Python code block (when
    ``require_code``) are rejected."""

    type_name = "phi_textbook"
    default_sampling = {"temperature": 0.8, "max_tokens": 1024}

    def __init__(self, name: str, *, audiences: list[str] | None = None, styles: list[str] | None = None,
                 require_code: bool = True, output: str = "text", **kwargs: Any) -> None:
        where = f"phi_textbook {name!r}"
        self.audiences = text_list(audiences, AUDIENCES, "audiences", where)
        self.styles = text_list(styles, STYLES, "styles", where)
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, writes=[output, "audience", "style"], **kwargs)
        self.require_code, self.output = bool(require_code), output
        self.prompt = self.load_template("phi_textbook.jinja")
        self.read_columns(self.prompt, not_columns={"audience", "style"})

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        ((audience, style),) = draw_pairs(f"{record.get(ID, '')}\x1f{self.name}", self.audiences,
                                          self.styles, 1)
        messages = chat(self.render(self.prompt, {**record, "audience": audience, "style": style}))
        response, lineage = await self.call(record, messages)
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected("the section hit max_tokens (finish_reason=length)")
        text = reply_text(strip_preamble(response.text or ""), "textbook section")
        if isinstance(text, Rejected):
            return text
        if self.require_code and not any(b.is_python and b.code.strip() for b in code_blocks(text)):
            return Rejected("the section has no Python code block (require_code)")
        return adopt_rows(record, {**record, "audience": audience, "style": style, self.output: text}, self.name,
                          [lineage])
