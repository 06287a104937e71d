"""The text-to-SQL agent environment: bundled SQLite databases (``university``, ``retail``, ``flights``), tools
that explore them in the sandbox, and a checker that compares result sets (see :mod:`.environment`)."""

from synthloom.envs.text_to_sql.environment import TextToSqlEnvironment, TextToSqlSession, databases, schema_text
from synthloom.envs.text_to_sql.sql import DIFFICULTIES, DIFFICULTY_RULES, compare_results, difficulty, is_ordered, normalise, parse_select

__all__ = ["DIFFICULTIES", "DIFFICULTY_RULES", "TextToSqlEnvironment", "TextToSqlSession", "compare_results", "databases", "difficulty",
           "is_ordered", "normalise", "parse_select", "schema_text"]
