"""ToolAlpaca's multi-agent simulation: an assistant agent calls tools, a tool-executor agent (an LLM) plays them.

Tang et al. 2023, "ToolAlpaca: Generalized Tool Learning for Language Models with 3000 Simulated Cases",
arXiv:2306.05301. The assistant answers the user agent's instruction in a loop: it calls functions (here through the
model layer's ``tools=``, not the paper's Thought/Action/Action Input text), the tool executor answers each call
from the function's documentation with JSON (constrained), and the results go back to the assistant until it
answers in words or ``max_steps`` rounds of calls were made (then it is asked for its answer with
``tool_choice: none``). Calls are checked against the tools' schemas (``synthloom.tools.validate.call_problem``)
before they are simulated: a call that does not validate rejects the row.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from ...llm.tools import TOOL_CHOICES, ToolCall, assistant_message, tool_message
from ...pipeline.model_step import ModelStep, chat, is_refusal
from ...pipeline.step import Rejected
from ...records import adopt_rows
from .apigen_checks import form_of, offered_tools
from .toolalpaca import CITATION

#: the tool executor's reply: whether the simulated call succeeded, the response body, the error otherwise
EXECUTOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}, "response": {}, "error": {"type": "string"}},
    "required": ["ok", "response"],
    "additionalProperties": False,
}
#: the columns a simulated row gets
SIMULATED_COLUMNS = ("calls", "results", "answer", "form", "simulated", "messages", "steps")


def simulated_result(call: ToolCall, reply: dict[str, Any]) -> dict[str, Any]:
    """A result in the executed rows' shape (``call_id``, ``name``, ``status``, ``value``, ``error``) with status
    ``simulated``: the executor's ``response`` when it said ``ok``, else its ``error``."""
    ok = bool(reply.get("ok"))
    error = None if ok else " ".join(str(reply.get("error") or "the simulated API reported an error").split())
    return {"call_id": call.id, "name": call.name, "status": "simulated", "value": reply.get("response") if ok else None,
            "error": error}


class ToolalpacaSimulate(ModelStep):
    """ToolAlpaca's assistant and tool-executor agents for one instruction (``query``) over a toolset (``tools``,
    ``toolset``, ``toolset_description``; ``tool_returns`` when known). The first round of calls is asked with
    ``tool_choice`` = ``first_tool_choice`` (``required``: every instruction needs a tool), later rounds with
    ``auto``; at most ``max_steps`` rounds (the in-process embedded model only makes forced calls, so keep
    ``max_steps: 1`` there). Each call is answered by the executor agent, model ``simulator_model`` (default: the
    step's) at ``simulator_temperature``, as JSON ``{"ok", "response", "error"}``.

    Writes ``calls`` (``[{"id", "name", "arguments"}]``, every round in order), ``results`` (each with ``status:
    "simulated"``), ``answer``, ``form`` (from the calls: simple, multiple, parallel, parallel_multiple),
    ``simulated`` (true), ``messages`` (the whole conversation as OpenAI chat messages) and ``steps`` (rounds of
    calls). Rejected, with the reason: no call at all, a call that does not validate against the tools' schemas,
    an empty, refused or cut-off final answer."""

    type_name = "toolalpaca_simulate"
    default_sampling = {"temperature": 0.7, "max_tokens": 512}

    def __init__(self, name: str, *, max_steps: int = 3, first_tool_choice: str = "required",
                 simulator_model: str | None = None, simulator_temperature: float = 0.0, simulator_max_tokens: int = 384,
                 system_template: str | None = None, executor_template: str | None = None,
                 citations: Iterable[str] = (), **kwargs: Any) -> None:
        where = f"toolalpaca_simulate {name!r}"
        if int(max_steps) < 1:
            raise ValueError(f"{where}: max_steps must be >= 1, not {max_steps}")
        if first_tool_choice not in TOOL_CHOICES or first_tool_choice == "none":
            raise ValueError(f"{where}: first_tool_choice must be 'required' or 'auto', not {first_tool_choice!r}")
        if int(simulator_max_tokens) < 16:
            raise ValueError(f"{where}: simulator_max_tokens must be >= 16, not {simulator_max_tokens}")
        super().__init__(name, reads=["query", "tools", "toolset", "toolset_description"], writes=SIMULATED_COLUMNS,
                         citations=[CITATION, *citations], **kwargs)
        self.simulator_model = simulator_model or self.model_name
        if self.simulator_model not in self.models:
            self.models.append(self.simulator_model)
        self.max_steps, self.first_tool_choice = int(max_steps), first_tool_choice
        self.simulator_temperature, self.simulator_max_tokens = float(simulator_temperature), int(simulator_max_tokens)
        self.system = system_template if system_template is not None else self.load_template("toolalpaca_assistant.jinja")
        self.executor = executor_template if executor_template is not None else self.load_template("toolalpaca_executor.jinja")
        self.read_columns(self.system, self.executor, not_columns={"function", "returns", "call"})

    async def simulate(self, record: dict[str, Any], call: ToolCall, salt: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The tool executor agent's answer to ``call``: ``(result, lineage entry)``."""
        fn = next(t["function"] for t in record["tools"] if t["function"]["name"] == call.name)
        view = {**record, "function": json.dumps(fn, ensure_ascii=False),
                "returns": (record.get("tool_returns") or {}).get(call.name, ""),
                "call": json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)}
        response, entry = await self.call(record, chat(self.render(self.executor, view)), model=self.simulator_model,
                                          json_schema=EXECUTOR_SCHEMA, salt=salt, temperature=self.simulator_temperature,
                                          max_tokens=self.simulator_max_tokens, lineage={"agent": "tool_executor"})
        return simulated_result(call, response.parsed), entry

    async def process(self, record: dict[str, Any]) -> list[dict[str, Any]] | Rejected:
        from ...tools.validate import call_problem

        query, tools = record.get("query"), record.get("tools")
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"toolalpaca_simulate {self.name!r}: column 'query' must be the user's instruction (text)")
        offered = offered_tools(tools, f"toolalpaca_simulate {self.name!r}")
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.render(self.system, record).strip()},
                                          {"role": "user", "content": query.strip()}]
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        lineage: list[dict[str, Any]] = []
        final = None
        steps = 0
        for step in range(self.max_steps):
            choice_mode = self.first_tool_choice if step == 0 else "auto"
            response, entry = await self.call(record, messages, tools=tools, tool_choice=choice_mode,
                                              salt=f"assistant{step}", lineage={"agent": "assistant"})
            lineage.append(entry)
            choice = response.choices[0]
            if not choice.tool_calls:
                final = choice
                break
            for i, c in enumerate(choice.tool_calls, 1):
                problem = call_problem(c, offered)
                if problem:
                    return Rejected(f"round {step + 1}, call {i}: {problem}", 0.0)
            steps += 1
            messages.append(assistant_message(choice.tool_calls, choice.text or None))
            answered = await asyncio.gather(*(self.simulate(record, c, f"tool{step}.{i}")
                                              for i, c in enumerate(choice.tool_calls)))
            for c, (result, entry) in zip(choice.tool_calls, answered):
                lineage.append(entry)
                calls.append({"id": c.id, "name": c.name, "arguments": c.arguments})
                results.append(result)
                body = result["value"] if result["error"] is None else {"error": result["error"]}
                messages.append(tool_message(c.id, json.dumps(body, ensure_ascii=False)))
        if not calls:
            return Rejected("the assistant answered without calling a tool", 0.0)
        if final is None:
            response, entry = await self.call(record, messages, tools=tools, tool_choice="none", salt="final",
                                              lineage={"agent": "assistant"})
            lineage.append(entry)
            final = response.choices[0]
        if final.finish_reason == "length":
            return Rejected("the final answer hit max_tokens (finish_reason=length)", 0.0)
        answer = (final.text or "").strip()
        if not answer or final.tool_calls:
            return Rejected("the assistant gave no final answer in words after its calls", 0.0)
        if is_refusal(answer):
            return Rejected(f"the assistant refused: {answer[:80]!r}", 0.0)
        messages.append({"role": "assistant", "content": answer})
        row = {**record, "calls": calls, "results": results, "answer": answer, "form": form_of(calls, len(tools)),
               "simulated": True, "messages": messages, "steps": steps}
        return adopt_rows(record, row, self.name, lineage)
