"""Magpie's pre-query templates: the text an aligned chat model sees just before a user's message.

Xu et al. 2024, "Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with
Nothing" (arXiv 2406.08464; reference code magpie-align/magpie, ``configs/model_configs.json``).

A :class:`MagpieTemplate` knows a chat format's turn markers, so it can write the pre-query text
(``<|im_start|>user\\n`` for ChatML), a conversation so far followed by the next user header (for
multi-turn Magpie), and the stop strings that end a user turn. :func:`detect_template` picks the
format from a model's Jinja chat template (read from the GGUF metadata key
``tokenizer.chat_template`` by :func:`read_gguf_metadata`); an unrecognised template is handled by
rendering it around a sentinel message and cutting there (:func:`template_from_chat_template`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

#: system prompts that steer Magpie toward a domain (the paper's math / code / translation variants)
SYSTEM_PROMPTS = {
    "general": "A chat between a curious user and an artificial intelligence assistant. The assistant gives "
               "helpful, detailed, and polite answers to the user's questions.",
    "math": "You are an AI assistant designed to provide helpful, step-by-step guidance on solving math problems. "
            "The user will ask you a wide range of complex mathematical questions.\nYour purpose is to assist users "
            "in understanding mathematical concepts, working through equations, and arriving at the correct solutions.",
    "code": "You are an AI assistant designed to provide helpful, step-by-step guidance on coding problems. The user "
            "will ask you a wide range of coding questions.\nYour purpose is to assist users in understanding coding "
            "concepts, working through code, and arriving at the correct solutions.",
    "translation": "You are an AI assistant specifically designed to provide accurate and contextually appropriate "
                   "translations. Users will ask you to translate text between various languages.\nYour purpose is to "
                   "assist users in understanding and conveying meaning across languages, maintaining the original "
                   "context and nuances.",
}


@dataclass(frozen=True)
class MagpieTemplate:
    """One chat format. ``system`` is a format string with ``{system}`` (``None``: the format has no
    system turn and a system prompt is put at the start of the first user message)."""

    name: str
    bos: str
    system: str | None
    user_start: str
    user_end: str
    assistant_start: str
    assistant_end: str
    stop: tuple[str, ...]
    #: the system prompt the model's own chat template adds when a conversation has none (SmolLM2, Qwen)
    default_system: str | None = None

    def pre_query(self, system: str | None = None) -> str:
        """The raw prompt that makes the model write a user query."""
        return self.conversation([], system)

    def conversation(self, turns: list[tuple[str, str]], system: str | None = None) -> str:
        """``turns`` (user, assistant) so far, then the next user header: the multi-turn pre-query."""
        out = [self.bos]
        lead = ""
        system = system or self.default_system
        if system:
            if self.system is not None:
                out.append(self.system.format(system=system))
            else:
                lead = system + "\n\n"
        for user, assistant in turns:
            out += [self.user_start, lead, user, self.user_end, self.assistant_start, assistant, self.assistant_end]
            lead = ""
        out += [self.user_start, lead]
        return "".join(out)


TEMPLATES: dict[str, MagpieTemplate] = {t.name: t for t in [
    MagpieTemplate("llama3", "<|begin_of_text|>", "<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>",
                   "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>",
                   "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>",
                   ("<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>")),
    MagpieTemplate("chatml", "", "<|im_start|>system\n{system}<|im_end|>\n", "<|im_start|>user\n", "<|im_end|>\n",
                   "<|im_start|>assistant\n", "<|im_end|>\n", ("<|im_end|>", "<|im_start|>", "<|endoftext|>")),
    MagpieTemplate("gemma", "<bos>", None, "<start_of_turn>user\n", "<end_of_turn>\n", "<start_of_turn>model\n",
                   "<end_of_turn>\n", ("<end_of_turn>", "<start_of_turn>", "<eos>")),
    MagpieTemplate("phi3", "<s>", "<|system|>\n{system}<|end|>\n", "<|user|>\n", "<|end|>\n", "<|assistant|>\n",
                   "<|end|>\n", ("<|end|>", "<|user|>", "<|assistant|>", "<|system|>", "<|endoftext|>", "</s>")),
    MagpieTemplate("mistral", "<s>", None, "[INST] ", " [/INST]", "", "</s>", ("</s>", "[INST]", "[/INST]")),
    MagpieTemplate("deepseek", "<｜begin▁of▁sentence｜>", "{system}\n\n", "User: ", "\n\n", "Assistant: ",
                   "<｜end▁of▁sentence｜>", ("<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "Assistant:", "<|EOT|>")),
    MagpieTemplate("deepseek3", "<｜begin▁of▁sentence｜>", "{system}", "<｜User｜>", "", "<｜Assistant｜>",
                   "<｜end▁of▁sentence｜>", ("<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>")),
]}
TEMPLATES["qwen2"] = replace(TEMPLATES["chatml"], name="qwen2")
TEMPLATES["llama-3"] = TEMPLATES["llama3"]
TEMPLATES["phi-3"] = TEMPLATES["phi3"]

#: (marker in a Jinja chat template, template name), checked in order
_MARKERS = [("<|start_header_id|>", "llama3"), ("<start_of_turn>", "gemma"), ("<|im_start|>", "chatml"),
            ("<｜User｜>", "deepseek3"), ("<|user|>", "phi3"), ("[INST]", "mistral"),
            ("<｜begin▁of▁sentence｜>", "deepseek")]
#: (substring of a model name, template name), for servers whose chat template cannot be read
_NAME_HINTS = [("llama-3", "llama3"), ("llama3", "llama3"), ("qwen", "chatml"), ("smollm", "chatml"),
               ("yi-", "chatml"), ("gemma", "gemma"), ("phi-3", "phi3"), ("phi3", "phi3"), ("mistral", "mistral"),
               ("mixtral", "mistral"), ("deepseek-r1", "deepseek3"), ("deepseek-v3", "deepseek3"),
               ("deepseek", "deepseek")]


def detect_template(chat_template: str) -> str | None:
    """The name of the format a Jinja chat template writes, or ``None`` when it is not one we know."""
    return next((name for marker, name in _MARKERS if marker in chat_template), None)


def template_from_model_name(model: str) -> str | None:
    low = model.lower()
    return next((name for hint, name in _NAME_HINTS if hint in low), None)


_SENTINEL = "\x00MAGPIE\x00"


@dataclass(frozen=True)
class JinjaMagpieTemplate(MagpieTemplate):
    """A format we have no table entry for: conversations are rendered by the model's own Jinja
    chat template with a sentinel as the next user message, cut before the sentinel."""

    chat: Any = None

    def conversation(self, turns: list[tuple[str, str]], system: str | None = None) -> str:
        msgs = [{"role": "system", "content": system}] if system else []
        for user, assistant in turns:
            msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        rendered = self.chat.render([*msgs, {"role": "user", "content": _SENTINEL}])
        return rendered.partition(_SENTINEL)[0]


def template_from_chat_template(source: str, bos_token: str = "", eos_token: str = "") -> MagpieTemplate:
    """A template for any Jinja chat template: render one user turn with a sentinel and cut the text
    before it (the pre-query); the first line after it ends a user turn (the stop string)."""
    from synthloom.llm.backends.gguf_chat import GgufChatTemplate

    chat = GgufChatTemplate(source, bos_token=bos_token, eos_token=eos_token)
    after = chat.render([{"role": "user", "content": _SENTINEL}]).partition(_SENTINEL)[2]
    end = after.strip().split("\n")[0].strip()
    stops = tuple(s for s in dict.fromkeys([end, eos_token]) if s)
    return JinjaMagpieTemplate("gguf", "", None, "", after, "", "", stops, chat=chat)


# -- GGUF metadata --------------------------------------------------------------------------------------

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_gguf_metadata(path: str, keys: set[str] | None = None) -> dict[str, Any]:
    """The key/value metadata of a GGUF file (only ``keys`` when given; arrays other than the
    tokenizer's token list are skipped). Reads the header only, never the tensors."""
    out: dict[str, Any] = {}
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        version = struct.unpack("<I", f.read(4))[0]
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is too old to read")
        _tensors, n_kv = struct.unpack("<QQ", f.read(16))
        for _ in range(n_kv):
            key = _string(f)
            vtype = struct.unpack("<I", f.read(4))[0]
            want = keys is None or key in keys
            out_value = _value(f, vtype, keep=want)
            if want:
                out[key] = out_value
    return out


def _string(f: BinaryIO) -> str:
    (n,) = struct.unpack("<Q", f.read(8))
    return f.read(n).decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int, keep: bool) -> Any:
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]
    if vtype == 8:
        return _string(f)
    if vtype == 9:
        itype, count = struct.unpack("<IQ", f.read(12))
        if itype in _SCALARS and not keep:
            f.seek(count * struct.calcsize(_SCALARS[itype]), 1)
            return None
        items = [_value(f, itype, keep) for _ in range(count)]
        return items if keep else None
    raise ValueError(f"unknown GGUF value type {vtype}")


def gguf_magpie_template(path: str) -> MagpieTemplate:
    """The Magpie template of a GGUF model, from its chat template metadata."""
    meta = read_gguf_metadata(path, {"tokenizer.chat_template", "tokenizer.ggml.tokens",
                                     "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"})
    source = meta.get("tokenizer.chat_template")
    if not source:
        raise ValueError(f"{path} has no chat template (GGUF key tokenizer.chat_template); set the Magpie step's "
                         f"`template:` to one of {', '.join(sorted(TEMPLATES))}")
    tokens = meta.get("tokenizer.ggml.tokens") or []

    def text(key: str) -> str:
        i = meta.get(key)
        return tokens[i] if isinstance(i, int) and 0 <= i < len(tokens) else ""

    bos, eos = text("tokenizer.ggml.bos_token_id"), text("tokenizer.ggml.eos_token_id")
    name = detect_template(source)
    if name is not None:
        template = TEMPLATES[name]
        if name in ("chatml", "qwen2"):  # as Magpie's Qwen configs: the template's default system turn is kept
            default = default_system_prompt(source, template, bos, eos)
            if default:
                template = replace(template, default_system=default)
        return template
    return template_from_chat_template(source, bos, eos)


def default_system_prompt(source: str, template: MagpieTemplate, bos: str = "", eos: str = "") -> str | None:
    """The system prompt a Jinja chat template adds to a conversation that has none (SmolLM2's "You are a
    helpful AI assistant named SmolLM, ..."), or ``None``: read back from a render of one user message."""
    from synthloom.llm.backends.gguf_chat import GgufChatTemplate

    if template.system is None or "{system}" not in template.system:
        return None
    try:
        rendered = GgufChatTemplate(source, bos_token=bos, eos_token=eos).render([{"role": "user", "content": _SENTINEL}])
    except Exception:  # noqa: BLE001 - a template that cannot render: the table's pre-query stands
        return None
    head, tail = template.system.split("{system}", 1)
    before = rendered.partition(_SENTINEL)[0]
    start = before.find(head)
    if start < 0:
        return None
    end = before.find(tail, start + len(head))
    return before[start + len(head):end] if end > start else None
