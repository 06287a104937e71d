"""Tools from an OpenAPI 3 document: one tool per operation (ToolAlpaca and ToolACE start from API documentation).

An operation's name is its ``operationId`` (or ``method_path``), sanitised to the tool-name pattern; its parameters
are the path and query parameters (path-level ones included, operation-level ones override) plus the properties of
a JSON request body (a non-object body becomes one ``body`` argument). Local ``$ref`` pointers
(``#/components/...``) are inlined; a schema that refers back to itself cannot be inlined and is refused. OpenAPI
3.0 quirks are turned into JSON Schema (``nullable``, boolean ``exclusiveMinimum``/``exclusiveMaximum``).
Without implementation source the tools are simulated only; with ``source``, each operation is the function of that
source named like the tool.
"""

from __future__ import annotations

import re
from typing import Any

from synthloom.tools.spec import Tool, safe_module_name, tool_from_schema

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_DROPPED = {"example", "examples", "xml", "externalDocs", "discriminator", "nullable"}


def tools_from_openapi(doc: dict[str, Any], *, category: str, source: str | None = None, module_name: str | None = None) -> list[Tool]:
    """One :class:`Tool` per operation of the OpenAPI 3 document ``doc``; executable when ``source`` defines a
    function per operation (named like the tool, ``-`` read as ``_``), otherwise simulated only."""
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3"):
        found = doc.get("swagger") if isinstance(doc, dict) else None
        hint = " (Swagger 2 documents: convert them to OpenAPI 3 first)" if found else ""
        raise ValueError(f"not an OpenAPI 3 document: it needs a top-level 'openapi: 3.x' field{hint}")
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise ValueError("the OpenAPI document has no paths, so no operations to turn into tools")
    resolver = _Resolver(doc)
    module = module_name or (safe_module_name(category) if source is not None else None)
    tools: list[Tool] = []
    seen: dict[str, str] = {}
    for path, item in paths.items():
        item = resolver.resolve(item, f"paths.{path}")
        shared = item.get("parameters") or []
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            where = f"{method.upper()} {path}"
            name = tool_name(op.get("operationId") or f"{method}_{path}")
            if name in seen:
                raise ValueError(f"OpenAPI operations {seen[name]} and {where} both become the tool {name!r}; "
                                 "give them distinct operationIds")
            seen[name] = where
            schema = {"name": name, "description": _description(op, where),
                      "parameters": _parameters(resolver, shared, op, where)}
            entry = name.replace("-", "_")
            try:
                tool = tool_from_schema(schema, source, category=category, entry=entry, module_name=module)
            except ValueError as exc:
                raise ValueError(f"OpenAPI operation {where}: {exc}") from exc
            tools.append(_with_returns(tool, op))
    if not tools:
        raise ValueError("the OpenAPI document has paths but no operations (get, post, ...)")
    return tools


def tool_name(text: str) -> str:
    """``text`` (an operationId or ``method_path``) as a tool name: letters, digits, '_' and '-', at most 64."""
    name = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_-]", "_", text)).strip("_-")
    if not name:
        raise ValueError(f"cannot make a tool name out of {text!r}")
    if name[0].isdigit():
        name = "op_" + name
    return name[:64]


def _description(op: dict[str, Any], where: str) -> str:
    parts = [str(op[k]).strip() for k in ("summary", "description") if op.get(k)]
    return "\n\n".join(dict.fromkeys(parts)) or where


def _with_returns(tool: Tool, op: dict[str, Any]) -> Tool:
    responses = op.get("responses") or {}
    for code in ("200", "201", "202", "default"):
        response = responses.get(code) or responses.get(int(code) if code.isdigit() else code)
        if isinstance(response, dict) and response.get("description"):
            return Tool(tool.name, tool.description, tool.parameters, tool.category, tool.module, tool.entry,
                        str(response["description"]).strip())
    return tool


def _parameters(resolver: _Resolver, shared: list[Any], op: dict[str, Any], where: str) -> dict[str, Any]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in [*shared, *(op.get("parameters") or [])]:
        param = resolver.resolve(raw, where)
        if not isinstance(param, dict) or "name" not in param:
            raise ValueError(f"OpenAPI operation {where}: a parameter needs a name, got {param!r}")
        merged[(param["name"], param.get("in", "query"))] = param
    properties: dict[str, Any] = {}
    required: list[str] = []
    for (name, place), param in merged.items():
        if place not in ("path", "query"):
            continue
        schema = resolver.schema(param.get("schema") or {"type": "string"}, f"{where} parameter {name!r}")
        if param.get("description"):
            schema = {**schema, "description": str(param["description"]).strip()}
        properties[name] = schema
        if place == "path" or param.get("required"):
            required.append(name)
    body = resolver.resolve(op.get("requestBody"), where) if op.get("requestBody") else None
    content = (body or {}).get("content") or {}
    json_body = next((v for k, v in content.items() if "json" in k), None)
    if json_body and json_body.get("schema"):
        schema = resolver.schema(json_body["schema"], f"{where} request body")
        if schema.get("type") == "object" or "properties" in schema:
            for key, sub in (schema.get("properties") or {}).items():
                if key in properties:
                    raise ValueError(f"OpenAPI operation {where}: the body field {key!r} has the name of a parameter")
                properties[key] = sub
            required += [k for k in schema.get("required") or () if k in properties]
        else:
            properties["body"] = schema
            if body.get("required"):
                required.append("body")
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = list(dict.fromkeys(required))
    return result


class _Resolver:
    """Inlines local ``$ref`` pointers of one document and rewrites OpenAPI 3.0 schema keywords as JSON Schema."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def resolve(self, value: Any, where: str, stack: tuple[str, ...] = ()) -> Any:
        """``value`` with a top-level ``$ref`` followed (not recursively: for parameters, bodies, path items)."""
        while isinstance(value, dict) and "$ref" in value:
            ref = value["$ref"]
            if ref in stack:
                raise ValueError(f"OpenAPI {where}: $ref {ref} refers back to itself; recursive schemas cannot be tool parameters")
            stack = (*stack, ref)
            value = self._target(ref, where)
        return value

    def schema(self, value: Any, where: str, stack: tuple[str, ...] = ()) -> Any:
        """A JSON schema with every ``$ref`` inlined and OpenAPI-only keywords converted."""
        if isinstance(value, list):
            return [self.schema(v, where, stack) for v in value]
        if not isinstance(value, dict):
            return value
        if "$ref" in value:
            ref = value["$ref"]
            if ref in stack:
                chain = " -> ".join((*stack[stack.index(ref):], ref))
                raise ValueError(f"OpenAPI {where}: schema cycle {chain}; recursive schemas cannot be tool parameters")
            return self.schema(self._target(ref, where), where, (*stack, ref))
        out: dict[str, Any] = {}
        for key, sub in value.items():
            if key in _DROPPED:
                continue
            if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(sub, dict):
                out[key] = {k: self.schema(v, where, stack) for k, v in sub.items()}
            elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf", "prefixItems"):
                out[key] = self.schema(sub, where, stack)
            else:
                out[key] = sub
        for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(out.get(bound), bool):
                if out.pop(bound) and limit in out:
                    out[bound] = out.pop(limit)
        if value.get("nullable") is True:
            out = _nullable(out)
        return out

    def _target(self, ref: Any, where: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise ValueError(f"OpenAPI {where}: only local $ref pointers ('#/components/...') are supported, not {ref!r}")
        node: Any = self.doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"OpenAPI {where}: $ref {ref} points at nothing in the document")
            node = node[part]
        return node


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        schema = {**schema, "type": [kind, "null"]}
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"] = [*schema["enum"], None]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}
