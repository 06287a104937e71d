"""Environments: loading the bundled ones, comparing states as JSON (multisets of rows, readable
differences) and executing calls in the real sandbox (a sequence of actions reaches the expected
state; an action against a hard rule is an error that changes nothing)."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path

import docstring_parser
import pytest

from synthloom.envs import environments, load_environment
from synthloom.envs.environment import (
    DUMP_ENTRY,
    EnvironmentStateLost,
    canonical_state,
    schema_keys,
    state_diff,
    states_equal,
)
from synthloom.tools.executor import Invocation

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")


# -- states as JSON ---------------------------------------------------------------------------------


def test_states_compare_rows_as_multisets():
    a = {"t": [{"id": 1, "x": "a"}, {"id": 2, "x": "b"}], "u": []}
    assert states_equal(a, {"u": [], "t": [{"x": "b", "id": 2}, {"id": 1, "x": "a"}]})
    assert not states_equal(a, {"t": [{"id": 1, "x": "a"}, {"id": 1, "x": "a"}, {"id": 2, "x": "b"}], "u": []})
    assert not states_equal(a, {"t": a["t"]})
    assert canonical_state({"b": [{"k": 2}, {"k": 1}], "a": []}) == {"a": [], "b": [{"k": 1}, {"k": 2}]}
    with pytest.raises(ValueError, match="table 't' must be a list of row objects"):
        canonical_state({"t": [1, 2]})


def test_state_diff_names_table_row_and_column():
    a = {"orders": [{"order_id": "#W1", "status": "pending", "zip": "1"}, {"order_id": "#W2", "status": "delivered", "zip": "2"}],
         "payments": [{"order_id": "#W1", "seq": 1, "amount": 10.0}], "gone": [{"x": 1}]}
    b = {"orders": [{"order_id": "#W1", "status": "cancelled", "zip": "1"}, {"order_id": "#W2", "status": "delivered", "zip": "2"}],
         "payments": [{"order_id": "#W1", "seq": 1, "amount": 10.0}, {"order_id": "#W1", "seq": 2, "amount": 10.0}],
         "new": []}
    lines = state_diff(a, b, {"orders": ["order_id"], "payments": ["order_id", "seq"]})
    assert lines == ["gone: table missing (1 rows)", "new: unexpected table (0 rows)",
                     "orders[#W1]: status 'pending' → 'cancelled'",
                     'payments: row added {"amount": 10.0, "order_id": "#W1", "seq": 2}']
    assert state_diff(b, a, {"payments": ["order_id", "seq"]})[-1] == \
        'payments: row removed {"amount": 10.0, "order_id": "#W1", "seq": 2}'
    assert state_diff(a, a) == []


def test_state_diff_pairs_rows_without_a_key_and_stops_at_the_limit():
    a = {"t": [{"id": "r1", "a": 1, "b": 2, "c": 3}]}
    b = {"t": [{"id": "r1", "a": 1, "b": 2, "c": 4}]}
    assert state_diff(a, b) == ["t[r1]: c 3 → 4"]
    many_a = {"t": [{"id": i, "v": 0} for i in range(30)]}
    many_b = {"t": [{"id": i, "v": 1} for i in range(30)]}
    lines = state_diff(many_a, many_b, {"t": ["id"]}, limit=5)
    assert len(lines) == 6 and lines[-1] == "... and 25 more differences"


def test_schema_keys_reads_inline_and_composite_primary_keys():
    schema = "CREATE TABLE a (\n  id TEXT PRIMARY KEY,\n  x INT\n);\nCREATE TABLE b (\n  k TEXT, n INT,\n  PRIMARY KEY (k, n)\n);"
    assert schema_keys(schema) == {"a": ["id"], "b": ["k", "n"]}


# -- the bundled environments ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["store", "airline"])
def test_bundled_environment_follows_the_tool_convention(name):
    env = load_environment(name)
    assert env.name == name and env.policy.startswith("#")
    assert len(env.tools) >= 8 and DUMP_ENTRY not in env.tool_names
    assert set(env.seed) == set(env.keys)  # every seeded table has a primary key in the schema
    assert 10 <= len(env.seed["users"]) <= 30
    namespace: dict = {}
    exec(compile(env.module.source, f"{name}.py", "exec"), namespace)  # noqa: S102 - our own bundled module, for its docstrings
    for tool in env.tools:
        fn = namespace[tool.name]
        doc = docstring_parser.parse(inspect.getdoc(fn) or "")
        assert [p.arg_name for p in doc.params] == list(inspect.signature(fn).parameters), tool.name
        assert tool.description and tool.returns, tool.name
        assert all(p.get("description") for p in tool.parameters["properties"].values()), tool.name
    assert env.initial_state() == env.seed and env.initial_state() is not env.seed


def test_environments_lists_the_bundled_ones_and_unknown_names_say_which_exist():
    assert environments() == ["airline", "store"]
    with pytest.raises(ValueError, match="unknown environment 'shop': bundled ones are airline, store"):
        load_environment("shop")


def test_execute_refuses_a_call_outside_the_agent_tools():
    env = load_environment("store")
    with pytest.raises(ValueError, match="'dump_environment_state' is not one of its tools"):
        env.execute(None, env.initial_state(), [Invocation("c1", DUMP_ENTRY, {})])


# -- executed in the sandbox -------------------------------------------------------------------------


@needs_bwrap
@pytest.mark.parametrize("name", ["store", "airline"])
def test_the_seed_loads_into_the_schema_and_reads_back_unchanged(executor, name):
    env = load_environment(name)
    results, state = env.execute(executor, env.initial_state(), [])
    assert results == [] and state == env.seed


@needs_bwrap
def test_a_sequence_of_actions_reaches_the_expected_state_and_a_refused_one_changes_nothing(executor):
    env = load_environment("store")
    start = env.initial_state()
    pending = next(o for o in start["orders"] if o["status"] == "pending")
    delivered = next(o for o in start["orders"] if o["status"] == "delivered")
    calls = [Invocation("c1", "get_order_details", {"order_id": pending["order_id"]}),
             Invocation("c2", "cancel_pending_order", {"order_id": delivered["order_id"], "reason": "no longer needed"}),
             Invocation("c3", "modify_pending_order_address", {"order_id": pending["order_id"], "address1": "9 New Road",
                        "address2": "", "city": "Boston", "state": "MA", "country": "USA", "zip": "02108"}),
             Invocation("c4", "cancel_pending_order", {"order_id": pending["order_id"], "reason": "no longer needed"})]
    results, final = env.execute(executor, start, calls)
    assert [r.status for r in results] == ["ok", "error", "ok", "ok"]
    assert results[1].error.startswith("ValueError: order") and "only pending orders can be cancelled" in results[1].error
    assert results[0].value["status"] == "pending" and results[3].value["status"] == "cancelled"
    # the same state without the refused call: it changed nothing
    _, without = env.execute(executor, start, [calls[0], calls[2], calls[3]])
    assert states_equal(final, without)
    order = next(o for o in final["orders"] if o["order_id"] == pending["order_id"])
    assert (order["status"], order["address1"], order["zip"]) == ("cancelled", "9 New Road", "02108")
    assert next(o for o in final["orders"] if o["order_id"] == delivered["order_id"]) == delivered
    changed = env.diff(start, final)
    assert f"orders[{pending['order_id']}]: status 'pending' → 'cancelled'" in changed
    assert any(line.startswith("payments: row added") and '"kind": "refund"' in line for line in changed)
    # the input state is never modified in place, and a later run starts from what it is given
    assert start == env.seed
    again, state = env.execute(executor, final, [calls[3]])
    assert again[0].status == "error" and states_equal(state, final)


@needs_bwrap
def test_airline_booking_in_the_sandbox_matches_a_replay(executor):
    env = load_environment("airline")
    start = env.initial_state()
    user = start["users"][2]
    flight = next(f for f in start["flights"] if f["status"] == "available" and f["seats_business"] >= 1)
    card = next(p for p in start["payment_methods"] if p["user_id"] == user["user_id"] and p["kind"] == "credit_card")
    book = Invocation("b1", "book_reservation", {
        "user_id": user["user_id"], "origin": flight["origin"], "destination": flight["destination"],
        "flight_type": "one_way", "cabin": "business", "flight_numbers": [flight["flight_number"]],
        "dates": [flight["date"]], "passenger_first_names": [user["first_name"]],
        "passenger_last_names": [user["last_name"]], "passenger_dobs": [user["dob"]],
        "payment_method_id": card["payment_method_id"], "total_baggages": 0, "nonfree_baggages": 0, "insurance": "no"})
    (result,), first = env.execute(executor, start, [book])
    assert result.ok and result.value["cabin"] == "business"
    _, second = asyncio.run(env.aexecute(executor, start, [book]))
    assert first == second  # deterministic ids: a replay of the same actions gives the same state
    assert len(first["reservations"]) == len(start["reservations"]) + 1


@needs_bwrap
def test_a_run_that_dies_loses_the_state_and_says_so(tmp_path):
    from synthloom.tools.executor import ToolExecutor

    folder = tmp_path / "spinner"
    folder.mkdir()
    (folder / "schema.sql").write_text("CREATE TABLE t (\n  id INTEGER PRIMARY KEY\n);\n")
    (folder / "seed.json").write_text(json.dumps({"t": [{"id": 1}]}))
    (folder / "policy.md").write_text("# Spin\n")
    (folder / "tools.py").write_text('''"""Test environment."""
import json


def spin(n: int) -> int:
    """Loop forever.

    Args:
        n: ignored.

    Returns:
        Never.
    """
    while True:
        n += 1


def dump_environment_state(table: str | None = None) -> dict:
    """Read the state.

    Args:
        table: the table to read.

    Returns:
        The table's columns and rows.
    """
    with open("state.json") as f:
        rows = json.load(f)[table]
    return {"columns": ["id"], "rows": [[r["id"]] for r in rows]}
''')
    env = load_environment(str(folder))
    assert env.tool_names == ["spin"]
    with ToolExecutor(workers=1, timeout=1.0) as ex:
        _, state = env.execute(ex, env.initial_state(), [])
        assert state == {"t": [{"id": 1}]}
        with pytest.raises(EnvironmentStateLost, match="could not be read back"):
            env.execute(ex, env.initial_state(), [Invocation("s", "spin", {"n": 1})])
