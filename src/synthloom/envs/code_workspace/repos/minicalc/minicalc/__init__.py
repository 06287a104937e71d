"""A tiny arithmetic expression evaluator: tokenizer, recursive-descent parser and evaluator."""

from minicalc.evaluator import EvaluationError, evaluate, evaluate_tree
from minicalc.lexer import Token, tokenize
from minicalc.parser import ParseError, parse

__all__ = ["EvaluationError", "ParseError", "Token", "evaluate", "evaluate_tree", "parse", "tokenize"]
