"""Evaluate syntax trees made by ``minicalc.parser``."""

import math

from minicalc.parser import parse

FUNCTIONS = {"abs": abs, "min": min, "max": max, "sqrt": math.sqrt, "round": round}
ARITY = {"abs": (1, 1), "sqrt": (1, 1), "round": (1, 2), "min": (1, None), "max": (1, None)}


class EvaluationError(ValueError):
    """An expression that parses but cannot be computed (unknown name, division by zero...)."""


def evaluate_tree(node, variables):
    kind = node[0]
    if kind == "number":
        return node[1]
    if kind == "name":
        if node[1] not in variables:
            raise EvaluationError(f"unknown variable {node[1]!r}")
        return variables[node[1]]
    if kind == "negate":
        return -evaluate_tree(node[1], variables)
    if kind == "call":
        return _call(node[1], [evaluate_tree(arg, variables) for arg in node[2]])
    op, left, right = node[1], evaluate_tree(node[2], variables), evaluate_tree(node[3], variables)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op in ("/", "%") and right == 0:
        raise EvaluationError("division by zero")
    if op == "/":
        result = left / right
        return int(result) if result == int(result) else result
    if op == "%":
        return left % right
    return left ** right


def _call(name, args):
    if name not in FUNCTIONS:
        raise EvaluationError(f"unknown function {name!r}")
    low, high = ARITY[name]
    if len(args) < low or (high is not None and len(args) > high):
        raise EvaluationError(f"{name}() takes {low}..{high or 'any'} arguments, got {len(args)}")
    if name == "sqrt" and args[0] < 0:
        raise EvaluationError("sqrt of a negative number")
    return FUNCTIONS[name](*args)


def evaluate(text, variables=None):
    """The value of the expression ``text`` with ``variables`` (a dict of names to numbers)."""
    return evaluate_tree(parse(text), dict(variables or {}))
