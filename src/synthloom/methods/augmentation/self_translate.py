"""Self-Translate-Train: a model translates its own training set into the target language.

Ri, R., Kiyono, S., Takase, S. (2024). *Self-Translate-Train: Enhancing Cross-Lingual Transfer of
Large Language Models via Inherent Capability* (first titled *A Simple but Strong Baseline for
Cross-lingual Transfer of Large Language Models*). arXiv:2407.00454.

The paper lets the LLM that is to be fine-tuned translate the (English) training data into the
target language with a translation prompt, and fine-tunes it on the translations (with or without
the source data). :class:`SelfTranslate` (``self_translate``) translates each of ``columns`` into
``target_language`` (``self_translate.jinja``), checks that the translation is in that language (the
script and stopword detector of Magpie's language tag,
:func:`synthloom.methods.instructions.magpie_tagging.tag_language`), translates it back and keeps
the row when the back-translation is close to the source (chrF by default): a round trip that loses
the meaning marks a translation not to train on. The language check and the back-translation
filter are this step's additions; the paper keeps every translation.
"""

from __future__ import annotations

from typing import Any

from ...curate.heuristics.language import LANGUAGE_SCRIPTS
from ...pipeline.model_step import ModelStep, chat, reply_text
from ...pipeline.step import Rejected
from ...records import adopt_rows
from ..instructions.magpie_tagging import tag_language
from .similarity import check_measure, similarity

CITATION = ("Ri et al. 2024, Self-Translate-Train: Enhancing Cross-Lingual Transfer of Large Language Models via "
            "Inherent Capability, arXiv:2407.00454")
LANGUAGE_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch",
    "pl": "Polish", "tr": "Turkish", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish", "cs": "Czech",
    "ro": "Romanian", "hu": "Hungarian", "id": "Indonesian", "vi": "Vietnamese", "ru": "Russian", "uk": "Ukrainian",
    "bg": "Bulgarian", "el": "Greek", "ar": "Arabic", "fa": "Persian", "he": "Hebrew", "zh": "Chinese", "ja": "Japanese",
    "ko": "Korean", "hi": "Hindi", "bn": "Bengali", "th": "Thai",
}
def known_language(code: str, option: str) -> str:
    """``code`` when it is a language this step knows, else a ValueError naming them."""
    if code not in LANGUAGE_NAMES:
        raise ValueError(f"{option} must be an ISO 639-1 code of {', '.join(sorted(LANGUAGE_NAMES))}, not {code!r}")
    if code not in LANGUAGE_SCRIPTS:  # the language check needs the script of every language named here
        raise ValueError(f"{option}: no script known for {code!r}")
    return code


class SelfTranslate(ModelStep):
    """Translates each of ``columns`` from ``source_language`` into ``target_language`` (ISO 639-1
    codes) into ``<column>_<target>``; with ``back_translate`` (default) also back into the source
    language (``<column>_back``) and scores the round trip (``measure``: ``chrf``, ``lexical`` or
    ``embedding``) into ``consistency`` (the lowest over the columns). Rejected: a translation cut
    off, refused or (``check_language``) detected in another language, and a round trip below
    ``min_consistency``. A map step."""

    type_name = "self_translate"
    default_sampling = {"temperature": 0.0, "max_tokens": 256}

    def __init__(self, name: str, *, columns: list[str] | None = None, target_language: str = "de",
                 source_language: str = "en", check_language: bool = True, back_translate: bool = True,
                 measure: str = "chrf", min_consistency: float = 0.4, **kwargs: Any) -> None:
        columns = ["text"] if columns is None else list(columns)
        if not columns:
            raise ValueError("columns must name at least one column to translate")
        target = known_language(target_language, "target_language")
        source = known_language(source_language, "source_language")
        if target == source:
            raise ValueError(f"target_language and source_language are both {target!r}")
        check_measure(measure, f"step {name!r}")
        if not 0 <= min_consistency <= 1:
            raise ValueError(f"min_consistency must be between 0 and 1, not {min_consistency}")
        writes = [f"{c}_{target}" for c in columns] + ([f"{c}_back" for c in columns] + ["consistency"] if back_translate else [])
        kwargs.setdefault("citations", [CITATION])
        super().__init__(name, reads=columns, writes=writes, **kwargs)
        self.columns, self.target, self.source = columns, target, source
        self.check_language, self.back_translate = check_language, back_translate
        self.measure, self.min_consistency = measure, min_consistency
        self.prompt = self.load_template("self_translate.jinja")

    async def translate(self, record: dict[str, Any], text: str, source: str, target: str,
                        salt: str) -> tuple[str | Rejected, dict[str, Any]]:
        """One translation of ``text`` (or why it cannot be used) and its lineage entry."""
        view = {"text": text, "source": LANGUAGE_NAMES[source], "target": LANGUAGE_NAMES[target]}
        response, lineage = await self.call(record, chat(self.render(self.prompt, view)), salt=salt)
        if response.choices and response.choices[0].finish_reason == "length":
            return Rejected(f"{salt}: the translation hit max_tokens (finish_reason=length)"), lineage
        out = reply_text(response, f"{salt} translation")
        if isinstance(out, Rejected):
            return out, lineage
        label = f"{LANGUAGE_NAMES[target]}:"
        if out.lower().startswith(label.lower()):
            out = out[len(label):].strip()
        return out, lineage

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        row, lineages, scores = dict(record), [], []
        for column in self.columns:
            text = record.get(column)
            if not isinstance(text, str) or not text.strip():
                return Rejected(f"column {column!r} has no text to translate")
            translated, entry = await self.translate(record, text.strip(), self.source, self.target, f"{column}:to")
            lineages.append(entry)
            if isinstance(translated, Rejected):
                return translated
            if self.check_language:
                found = tag_language(translated)
                if found is not None and found != self.target:
                    return Rejected(f"the translation of {column!r} is in {found!r}, not {self.target!r}")
            row[f"{column}_{self.target}"] = translated
            if not self.back_translate:
                continue
            back, entry = await self.translate(record, translated, self.target, self.source, f"{column}:back")
            lineages.append(entry)
            if isinstance(back, Rejected):
                return back
            row[f"{column}_back"] = back
            score = round(similarity(back, text.strip(), self.measure), 4)
            scores.append(score)
            if score < self.min_consistency:
                return Rejected(f"the back-translation of {column!r} drifted from the source: {self.measure} "
                                f"{score:.2f} < min_consistency {self.min_consistency}", score=score)
        if self.back_translate:
            row["consistency"] = min(scores)
        return adopt_rows(record, row, self.name, lineages)
