"""The LLM step shape shared by the taxonomy-, attribute- and document-driven instruction methods
(GLAN, LAB, Nemotron-style generators, Humpback, AgentInstruct): a Jinja2 prompt template
bundled beside the method's module (overridable from a recipe with ``prompt:``), rendered over the
record's columns plus step-provided variables, and a ``parse`` the method implements.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from ...pipeline.llm_step import LLMStep
from ...pipeline.model_step import chat


class BundledPromptStep(LLMStep):
    """An LLM step whose user prompt is a bundled template (``template_file``) or the recipe's
    ``prompt`` (a Jinja2 string), and whose system message is ``system`` (a Jinja2 string) or the
    bundled ``system_file``. Subclasses set ``template_file`` / ``system_file``, ``citation`` and
    the columns they write (``writes_columns``), list the template variables they provide
    themselves in ``provided`` and implement :meth:`variables` and :meth:`parse`."""

    python_only_options = ("parse",)
    #: LLMStep options these steps have no use for: the prompt is a chat and ``parse`` makes the columns
    dropped_options = ("raw", "json_schema", "structured_attempts", "output")
    template_file: ClassVar[str] = ""
    system_file: ClassVar[str | None] = None
    provided: ClassVar[frozenset[str]] = frozenset()
    #: columns every step of this type writes
    writes_columns: ClassVar[frozenset[str]] = frozenset()
    #: the method's paper, for the dataset card (when the recipe gives no ``citations``)
    citation: ClassVar[str] = ""

    def __init__(self, name: str, *, prompt: str | None = None, system: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        citations = list(citations) or ([self.citation] if self.citation else [])
        super().__init__(name, citations=citations, **kwargs)
        self.user_template = prompt if prompt is not None else self.load_template(self.template_file).rstrip("\n")
        if system is None and self.system_file:
            system = self.load_template(self.system_file).rstrip("\n")
        self.system_template = system or None
        self.read_columns(self.user_template, self.system_template, not_columns=self.provided)
        self.writes |= self.writes_columns

    def variables(self, record: dict[str, Any]) -> dict[str, Any]:
        """Template variables the step computes for ``record`` (beyond its columns)."""
        return {}

    def prompt(self, record: dict[str, Any]) -> list[dict[str, str]] | str | None:
        scope = {**record, **self.variables(record)}
        system = self.render(self.system_template, scope) if self.system_template else None
        return chat(self.render(self.user_template, scope), system)
