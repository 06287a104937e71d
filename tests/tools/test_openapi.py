"""Tools from OpenAPI 3 documents."""

from __future__ import annotations

import copy

import pytest

from synthloom.llm.tools import tools_problem
from synthloom.tools import call_problem, tools_from_openapi
from synthloom.tools.openapi import tool_name

DOC = {
    "openapi": "3.0.3",
    "info": {"title": "Pet store", "version": "1"},
    "paths": {
        "/pets/{petId}": {
            "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"},
                            "description": "The pet's id."}],
            "get": {"operationId": "getPet", "summary": "Get one pet.",
                    "parameters": [{"$ref": "#/components/parameters/Verbose"},
                                   {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "The pet."}}},
            "delete": {"summary": "Delete a pet.", "responses": {"204": {"description": "Deleted."}}},
        },
        "/pets": {
            "post": {"operationId": "add-pet", "description": "Add a pet to the store.",
                     "requestBody": {"required": True,
                                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}}},
                     "responses": {"201": {"description": "The new pet."}}},
        },
    },
    "components": {
        "parameters": {"Verbose": {"name": "verbose", "in": "query", "schema": {"type": "boolean"}}},
        "schemas": {
            "NewPet": {"type": "object", "required": ["name"],
                       "properties": {"name": {"type": "string", "example": "Rex"},
                                      "tag": {"type": "string", "nullable": True},
                                      "owner": {"$ref": "#/components/schemas/Owner"},
                                      "age": {"type": "number", "minimum": 0, "exclusiveMinimum": True}}},
            "Owner": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}},
        },
    },
}


def test_one_tool_per_operation() -> None:
    tools = {t.name: t for t in tools_from_openapi(DOC, category="pets")}
    assert sorted(tools) == ["add-pet", "delete_pets_petId", "getPet"]
    get = tools["getPet"]
    assert get.description == "Get one pet." and get.returns == "The pet." and get.category == "pets"
    assert get.parameters == {"type": "object", "required": ["petId"], "properties": {
        "petId": {"type": "integer", "description": "The pet's id."}, "verbose": {"type": "boolean"}}}
    assert not get.executable
    add = tools["add-pet"].parameters
    assert add["required"] == ["name"]
    assert add["properties"]["name"] == {"type": "string"}
    assert add["properties"]["tag"] == {"type": ["string", "null"]}
    assert add["properties"]["owner"] == {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    assert add["properties"]["age"] == {"type": "number", "exclusiveMinimum": 0}
    assert tools_problem([t.openai() for t in tools.values()]) is None
    assert call_problem({"name": "getPet", "arguments": {"petId": "x"}}, tools) == \
        "call of 'getPet': argument 'petId' must be an integer, not 'x'"
    assert call_problem({"name": "add-pet", "arguments": {"name": "Rex", "tag": None}}, tools) is None


def test_operations_map_to_source_functions() -> None:
    source = ("def getPet(petId, verbose=False):\n    return {'id': petId}\n\n"
              "def delete_pets_petId(petId):\n    return None\n\n"
              "def add_pet(name, tag=None, owner=None, age=None):\n    return {'name': name}\n")
    tools = {t.name: t for t in tools_from_openapi(DOC, category="pets", source=source)}
    assert all(t.executable for t in tools.values())
    assert tools["add-pet"].entry == "add_pet" and tools["getPet"].entry == "getPet"
    assert len({t.module for t in tools.values()}) == 1 and tools["getPet"].module.name == "pets"
    with pytest.raises(ValueError, match=r"OpenAPI operation POST /pets: tool 'add-pet': the source defines no top-level function "
                                         r"'add_pet'"):
        tools_from_openapi(DOC, category="pets", source=source.replace("def add_pet", "def other"))


def test_non_object_body_is_one_argument() -> None:
    doc = {"openapi": "3.1.0", "paths": {"/tags": {"put": {"operationId": "setTags", "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": {"type": "string"}}}}}}}}}
    (tool,) = tools_from_openapi(doc, category="c")
    assert tool.parameters == {"type": "object", "properties": {"body": {"type": "array", "items": {"type": "string"}}},
                               "required": ["body"]}
    assert tool.description == "PUT /tags"


def test_reference_cycles_are_refused() -> None:
    doc = copy.deepcopy(DOC)
    doc["components"]["schemas"]["Owner"]["properties"]["pets"] = {"type": "array", "items": {"$ref": "#/components/schemas/NewPet"}}
    with pytest.raises(ValueError, match=r"schema cycle #/components/schemas/NewPet -> #/components/schemas/Owner -> "
                                         r"#/components/schemas/NewPet; recursive schemas"):
        tools_from_openapi(doc, category="pets")


def test_document_errors() -> None:
    with pytest.raises(ValueError, match="Swagger 2 documents: convert them"):
        tools_from_openapi({"swagger": "2.0", "paths": {}}, category="c")
    with pytest.raises(ValueError, match="has no paths"):
        tools_from_openapi({"openapi": "3.0.0", "paths": {}}, category="c")
    external = {"openapi": "3.0.0", "paths": {"/a": {"get": {"parameters": [{"$ref": "other.yaml#/P"}]}}}}
    with pytest.raises(ValueError, match="only local \\$ref pointers"):
        tools_from_openapi(external, category="c")
    dangling = {"openapi": "3.0.0", "paths": {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/Nope"}]}}}}
    with pytest.raises(ValueError, match="points at nothing"):
        tools_from_openapi(dangling, category="c")
    twice = {"openapi": "3.0.0", "paths": {"/a": {"get": {"operationId": "same"}}, "/b": {"get": {"operationId": "same"}}}}
    with pytest.raises(ValueError, match="GET /a and GET /b both become the tool 'same'"):
        tools_from_openapi(twice, category="c")


def test_tool_names_are_sanitised() -> None:
    assert tool_name("get_/users/{id}/posts") == "get_users_id_posts"
    assert tool_name("3d.render") == "op_3d_render"
    assert len(tool_name("x" * 100)) == 64
    with pytest.raises(ValueError, match="cannot make a tool name"):
        tool_name("///")
