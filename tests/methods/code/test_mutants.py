"""Simple AST mutants: one change each, distinct, compiling, and caught by good tests; as text edits that keep
the rest of the source as it was."""

from __future__ import annotations

import ast

from synthloom.methods.code.mutants import local_mutants, mutants
from synthloom.verify.code import verify_code

PRIME = """def is_prime(n):
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True"""


def test_each_mutant_changes_one_place_and_compiles():
    found = mutants(PRIME, limit=None)
    descriptions = [m.description for m in found]
    assert "line 2: < -> <=" in descriptions and "line 5: <= -> <" in descriptions
    assert "line 6: == -> !=" in descriptions and "line 8: + -> -" in descriptions
    assert "line 2: 2 -> 3" in descriptions and "line 6: % -> //" in descriptions
    assert len({m.code for m in found}) == len(found)
    for m in found:
        compile(m.code, "mutant", "exec")
        assert m.code != PRIME


def test_limit_spreads_and_bad_code_has_none():
    assert len(mutants(PRIME, limit=3)) == 3
    assert mutants("def (:") == []
    assert mutants("x = 'text'") == []
    assert [m.description for m in mutants("ok = not flag")] == ["line 1: not x -> x"]
    assert [m.description for m in mutants("y = a and b")] == ["line 1: and -> or"]


def test_good_tests_kill_mutants_weak_tests_do_not():
    strong = ["assert is_prime(2) is True", "assert is_prime(9) is False", "assert is_prime(1) is False",
              "assert is_prime(97) is True", "assert is_prime(4) is False"]
    weak = ["assert is_prime(97) is True"]
    found = mutants(PRIME, limit=None)
    killed_strong = sum(not verify_code(m.code, strong, timeout=2).passed for m in found)
    killed_weak = sum(not verify_code(m.code, weak, timeout=2).passed for m in found)
    assert killed_strong > killed_weak and killed_strong >= len(found) // 2


COMMENTED = '''def scale(values, factor):
    """Every value times ``factor`` (a 'quoted' word stays quoted)."""
    out = []  # the result
    for v in values:
        if not v or (v > 10 and v % 2 == 0):   # odd spacing kept
            out.append(v*factor)
    return out
'''


def test_local_mutants_edit_only_the_mutated_operator_and_parse_like_the_ast_mutants():
    local, full = local_mutants(COMMENTED, limit=None), mutants(COMMENTED, limit=None)
    assert sorted(m.description for m in local) == sorted(m.description for m in full)
    by_tree = {ast.dump(ast.parse(m.code)) for m in full}
    for m in local:
        assert ast.dump(ast.parse(m.code)) in by_tree
        changed = [(a, b) for a, b in zip(COMMENTED.splitlines(), m.code.splitlines()) if a != b]
        assert len(changed) == 1 and "# odd spacing kept" in m.code and "'quoted'" in m.code
    edits = {m.description: m.code.splitlines()[4] for m in local}
    assert edits["line 5: not x -> x"] == "        if v or (v > 10 and v % 2 == 0):   # odd spacing kept"
    assert edits["line 5: and -> or"] == "        if not v or (v > 10 or v % 2 == 0):   # odd spacing kept"
    assert [m.code.splitlines()[5] for m in local if m.description == "line 6: * -> +"] == ["            out.append(v+factor)"]
    assert local_mutants("def (:") == [] and len(local_mutants(PRIME, limit=3)) == 3
