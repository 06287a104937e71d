"""YAML as recipes read it: YAML 1.2 booleans, so ``on:``, ``yes``, ``no``, ``off`` stay text.

PyYAML follows YAML 1.1, where ``on: key`` (a join's option) is the boolean ``True: key`` and a
value ``no`` (a country code, an answer) is ``False``. Recipes take only ``true``/``false``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class RecipeYamlLoader(yaml.SafeLoader):
    """A safe loader whose booleans are YAML 1.2's: ``true``/``false`` in any case, nothing else."""


RecipeYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
RecipeYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with YAML 1.2 booleans."""
    return yaml.load(text, Loader=RecipeYamlLoader)  # noqa: S506 - a SafeLoader subclass


def compose_yaml(text: str) -> Any:
    return yaml.compose(text, Loader=RecipeYamlLoader)
