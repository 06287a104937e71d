"""Chat templates stored in GGUF files, rendered the way Hugging Face ``transformers`` does.

A GGUF carries its chat template as Jinja2 source in the ``tokenizer.chat_template`` metadata key.
It is rendered here (not by llama.cpp's built-in template matcher) so that any template works,
with the same environment as ``transformers.apply_chat_template``: sandboxed, ``trim_blocks``,
``lstrip_blocks``, ``loopcontrols``, a ``tojson`` that keeps non-ASCII text, ``raise_exception``
and ``strftime_now``, and ``add_generation_prompt=True``.

Tools: a template that refers to ``tools`` gets them as ``transformers`` passes them (the list of
function tools). For one that does not, the tools are described in the system message and earlier
assistant calls are written as the JSON the tool grammar produces (``{"name", "arguments"}``), so
any template can render a tool conversation.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class ChatTemplateError(ValueError):
    """The model has no chat template, or its template failed on the given messages."""


class _IgnoreGenerationTags(jinja2.ext.Extension):
    """Pass-through for the ``{% generation %}`` tag some training templates use."""

    tags = {"generation"}

    def parse(self, parser: Any) -> list[jinja2.nodes.Node]:
        parser.stream.skip(1)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(message)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class GgufChatTemplate:
    """A model's Jinja2 chat template plus the special-token texts it refers to.

    ``render(messages)`` returns the prompt text ending with the assistant's turn header
    (``add_generation_prompt=True``), ready to be tokenized with special tokens parsed.
    """

    def __init__(self, source: str, *, bos_token: str, eos_token: str, model_name: str = "the model"):
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token
        env = ImmutableSandboxedEnvironment(
            loader=jinja2.BaseLoader(),
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=[_IgnoreGenerationTags, jinja2.ext.loopcontrols],
        )
        env.filters["tojson"] = _tojson
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise ChatTemplateError(
                f"the chat template of {model_name} (GGUF key tokenizer.chat_template) is not valid Jinja2: "
                f"{exc.message} (line {exc.lineno}); send raw `prompt` requests instead of chat messages"
            ) from exc
        self._model_name = model_name
        self.knows_tools = "tools" in source

    def render(self, messages: list[dict[str, Any]] | tuple[dict[str, Any], ...],
               tools: list[dict[str, Any]] | tuple[dict[str, Any], ...] | None = None) -> str:
        """The prompt text for ``messages`` (offering ``tools``) followed by the assistant turn header."""
        extra: dict[str, Any] = {}
        if tools and self.knows_tools:
            extra["tools"] = [dict(t) for t in tools]
            messages = [dict(m) for m in messages]
        elif tools or any(m.get("tool_calls") for m in messages):
            messages = _without_tool_fields(messages, tools)
        else:
            messages = [dict(m) for m in messages]
        try:
            return self._template.render(
                messages=messages,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                add_generation_prompt=True,
                raise_exception=_raise_exception,
                strftime_now=_strftime_now,
                **extra,
            )
        except ChatTemplateError as exc:
            raise ChatTemplateError(f"the chat template of {self._model_name} rejected the messages: {exc}") from exc
        except jinja2.TemplateError as exc:
            raise ChatTemplateError(
                f"the chat template of {self._model_name} failed on the messages: {exc}"
            ) from exc


_TOOLS_NOTE = ("You can call these functions:\n<tools>\n{tools}\n</tools>\nTo call one, answer with a JSON object "
               '{{"name": <function name>, "arguments": <its arguments>}}, or a JSON list of them for several calls.')


def _without_tool_fields(messages: Any, tools: Any) -> list[dict[str, Any]]:
    """``messages`` for a template that knows nothing of tools: the tools described in the system
    message, assistant calls as JSON text."""
    out = []
    for m in messages:
        m = dict(m)
        calls = m.pop("tool_calls", None)
        if calls:
            written = [{"name": c["function"]["name"], "arguments": _arguments(c["function"]["arguments"])}
                       for c in calls]
            text = json.dumps(written[0] if len(written) == 1 else written, ensure_ascii=False)
            m["content"] = f"{m['content']}\n{text}" if m.get("content") else text
        out.append(m)
    if tools:
        described = "\n".join(json.dumps(t["function"], ensure_ascii=False) for t in tools)
        note = _TOOLS_NOTE.format(tools=described)
        if out and out[0].get("role") == "system" and isinstance(out[0].get("content"), str):
            out[0]["content"] = f"{out[0]['content']}\n\n{note}"
        else:
            out.insert(0, {"role": "system", "content": note})
    return out


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw
