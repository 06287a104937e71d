"""The airline environment's tools, in-process over a fresh copy of the seed: searches, bookings and
changes with their hard rules (seats, routes, payment owner, departed flights, basic economy)."""

from __future__ import annotations

import pytest

from synthloom.envs.environment import canonical_state


@pytest.fixture
def airline(env_module):
    return env_module("airline")


def _flight(seed, **where):
    return next(f for f in seed["flights"] if all(f[k] == v for k, v in where.items()))


def _bookable(seed, cabin="economy", seats=2):
    return next(f for f in seed["flights"] if f["status"] == "available" and f[f"seats_{cabin}"] >= seats)


def _credit_card(seed, user_id):
    return next(p for p in seed["payment_methods"] if p["user_id"] == user_id and p["kind"] == "credit_card")


def _segments(seed, reservation_id):
    return [r for r in seed["reservation_flights"] if r["reservation_id"] == reservation_id]


def _book(m, seed, flight, user, **over):
    args = dict(user_id=user["user_id"], origin=flight["origin"], destination=flight["destination"],
                flight_type="one_way", cabin="economy", flight_numbers=[flight["flight_number"]], dates=[flight["date"]],
                passenger_first_names=[user["first_name"], "Noah"], passenger_last_names=[user["last_name"]] * 2,
                passenger_dobs=[user["dob"], "2010-01-02"],
                payment_method_id=_credit_card(seed, user["user_id"])["payment_method_id"],
                total_baggages=1, nonfree_baggages=1, insurance="yes")
    return m.book_reservation(**{**args, **over})


def test_searches(airline):
    m, seed = airline
    flight = _bookable(seed)
    found = m.search_direct_flight(flight["origin"], flight["destination"], flight["date"])
    assert flight["flight_number"] in [f["flight_number"] for f in found]
    assert all(f["status"] in ("available", "delayed") for f in found)
    assert m.get_flight_status(flight["flight_number"], flight["date"]) == "available"
    assert set(m.list_all_airports()) == {a["code"] for a in seed["airports"]}
    for first, second in m.search_onestop_flight("JFK", "SFO", "2024-05-20"):
        assert first["destination"] == second["origin"] and second["departure"] > first["arrival"]
    with pytest.raises(ValueError, match="does not fly on"):
        m.get_flight_status("HAT999", "2024-05-20")


def test_book_reservation_takes_seats_and_payment(airline):
    m, seed = airline
    flight, user = _bookable(seed), seed["users"][0]
    out = _book(m, seed, flight, user)
    price = flight["price_economy"]
    assert out["status"] == "active" and out["created_at"] == "2024-05-15T15:00:00"
    assert out["payments"] == [{"kind": "payment", "payment_method_id": _credit_card(seed, user["user_id"])["payment_method_id"],
                                "amount": round(2 * price + 2 * 30 + 50, 2)}]
    assert [p["first_name"] for p in out["passengers"]] == [user["first_name"], "Noah"]
    state = m.dump_environment_state()
    after = _flight(state, flight_number=flight["flight_number"], date=flight["date"])
    assert after["seats_economy"] == flight["seats_economy"] - 2
    assert out["reservation_id"] in m.get_user_details(user["user_id"])["reservations"]


def test_the_booking_id_is_derived_from_the_data_not_random(env_module, tmp_path):
    m, seed = env_module("airline")
    first = _book(m, seed, _bookable(seed), seed["users"][0])["reservation_id"]
    m2, _ = env_module("airline")  # a fresh copy of the seed
    assert _book(m2, seed, _bookable(seed), seed["users"][0])["reservation_id"] == first


@pytest.mark.parametrize("case, over, message", [
    ("seats", {"cabin": "business"}, "seats left"),
    ("route", {"destination": "BOS"}, "lands in"),
    ("payment", {"payment_method_id": "credit_card_0000000"}, "does not belong"),
    ("passengers", {"passenger_dobs": ["1990-01-01"]}, "for each passenger"),
    ("bags", {"nonfree_baggages": 3}, "nonfree_baggages"),
])
def test_book_reservation_refusals_change_nothing(airline, case, over, message):
    m, seed = airline
    flight = next(f for f in seed["flights"] if f["status"] == "available" and f["seats_economy"] >= 2
                  and f["seats_business"] < 2 and f["destination"] != "BOS")
    with pytest.raises(ValueError, match=message):
        _book(m, seed, flight, seed["users"][0], **over)
    assert canonical_state(m.dump_environment_state()) == canonical_state(seed)


def test_cancel_refunds_and_releases_seats_but_not_once_departed(airline):
    m, seed = airline
    states = {(f["flight_number"], f["date"]): f["status"] for f in seed["flights"]}
    active = [r for r in seed["reservations"] if r["status"] == "active"]
    future = next(r for r in active if all(states[(s["flight_number"], s["date"])] in ("available", "delayed")
                                           for s in _segments(seed, r["reservation_id"])))
    flown = next(r for r in active if any(states[(s["flight_number"], s["date"])] == "landed"
                                          for s in _segments(seed, r["reservation_id"])))
    with pytest.raises(ValueError, match="already departed"):
        m.cancel_reservation(flown["reservation_id"])
    assert canonical_state(m.dump_environment_state()) == canonical_state(seed)
    out = m.cancel_reservation(future["reservation_id"])
    paid = next(p for p in seed["reservation_payments"] if p["reservation_id"] == future["reservation_id"])
    assert out["status"] == "cancelled" and out["payments"][-1]["kind"] == "refund"
    assert out["payments"][-1]["amount"] == paid["amount"]
    with pytest.raises(ValueError, match="already cancelled"):
        m.cancel_reservation(future["reservation_id"])


def test_basic_economy_flights_cannot_change_but_others_can(airline):
    m, seed = airline
    states = {(f["flight_number"], f["date"]): f for f in seed["flights"]}

    def changeable(r):
        segs = _segments(seed, r["reservation_id"])
        return r["status"] == "active" and r["flight_type"] == "one_way" and len(segs) == 1 and \
            states[(segs[0]["flight_number"], segs[0]["date"])]["status"] == "available"

    basic = next(r for r in seed["reservations"] if r["cabin"] == "basic_economy" and changeable(r))
    seg = _segments(seed, basic["reservation_id"])[0]
    later = next(f for f in seed["flights"] if f["flight_number"] == seg["flight_number"] and f["date"] > seg["date"]
                 and f["status"] == "available")
    card = _credit_card(seed, basic["user_id"])["payment_method_id"]
    with pytest.raises(ValueError, match="basic economy"):
        m.update_reservation_flights(basic["reservation_id"], "basic_economy", [later["flight_number"]], [later["date"]], card)
    other = next(r for r in seed["reservations"] if r["cabin"] == "economy" and changeable(r)
                 and any(f["flight_number"] == _segments(seed, r["reservation_id"])[0]["flight_number"]
                         and f["date"] > _segments(seed, r["reservation_id"])[0]["date"] and f["status"] == "available"
                         and f["seats_economy"] >= 5 for f in seed["flights"]))
    seg = _segments(seed, other["reservation_id"])[0]
    later = next(f for f in seed["flights"] if f["flight_number"] == seg["flight_number"] and f["date"] > seg["date"]
                 and f["status"] == "available" and f["seats_economy"] >= 5)
    card = _credit_card(seed, other["user_id"])["payment_method_id"]
    out = m.update_reservation_flights(other["reservation_id"], "economy", [later["flight_number"]], [later["date"]], card)
    assert [(f["flight_number"], f["date"], f["price"]) for f in out["flights"]] == \
        [(later["flight_number"], later["date"], later["price_economy"])]
    n = sum(1 for p in seed["reservation_passengers"] if p["reservation_id"] == other["reservation_id"])
    state = m.dump_environment_state()
    assert _flight(state, flight_number=seg["flight_number"], date=seg["date"])["seats_economy"] == \
        states[(seg["flight_number"], seg["date"])]["seats_economy"] + n
    assert _flight(state, flight_number=later["flight_number"], date=later["date"])["seats_economy"] == later["seats_economy"] - n


def test_bags_can_be_added_not_removed_and_passengers_keep_their_number(airline):
    m, seed = airline
    r = next(r for r in seed["reservations"] if r["status"] == "active" and r["total_baggages"] > 0)
    card = _credit_card(seed, r["user_id"])["payment_method_id"]
    with pytest.raises(ValueError, match="cannot be removed"):
        m.update_reservation_baggages(r["reservation_id"], r["total_baggages"] - 1, 0, card)
    out = m.update_reservation_baggages(r["reservation_id"], r["total_baggages"] + 2, r["nonfree_baggages"] + 2, card)
    assert out["payments"][-1] == {"kind": "payment", "payment_method_id": card, "amount": 100.0}
    passengers = [p for p in seed["reservation_passengers"] if p["reservation_id"] == r["reservation_id"]]
    with pytest.raises(ValueError, match="cannot change"):
        m.update_reservation_passengers(r["reservation_id"], ["A"] * (len(passengers) + 1), ["B"] * (len(passengers) + 1),
                                        ["2000-01-01"] * (len(passengers) + 1))
    out = m.update_reservation_passengers(r["reservation_id"], ["Ada"] + [p["first_name"] for p in passengers[1:]],
                                          [p["last_name"] for p in passengers], [p["dob"] for p in passengers])
    assert out["passengers"][0]["first_name"] == "Ada"


def test_send_certificate_adds_a_payment_method(airline):
    m, seed = airline
    user = seed["users"][5]
    method_id = m.send_certificate(user["user_id"], 100)
    assert method_id not in {p["payment_method_id"] for p in seed["payment_methods"]}
    methods = m.get_user_details(user["user_id"])["payment_methods"]
    assert {"payment_method_id": method_id, "kind": "certificate", "balance": 100.0} in methods
    with pytest.raises(ValueError, match="between 1 and 500"):
        m.send_certificate(user["user_id"], 10_000)
