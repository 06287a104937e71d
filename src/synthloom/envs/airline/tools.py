"""Airline environment tools (τ-bench airline style): look up members, flights and reservations, and
book, change or cancel reservations under the airline's policy. The current time is 2024-05-15 15:00.

Runs inside the sandbox as its own module: the state comes from ``state.json`` in the current
directory (``{table: [row, ...]}``), loaded into an in-memory SQLite database built from
``schema.sql`` (also in the current directory); every change is written back to ``state.json``, so
calls in one run see each other's changes. A tool that breaks a hard rule raises ``ValueError`` and
changes nothing. ``dump_environment_state`` is the environment's own read-out, never offered to an agent.
"""

import contextlib
import hashlib
import json
import sqlite3
from typing import Literal

CATEGORY = "airline"
NOW = "2024-05-15T15:00:00"
_STATE_FILE = "state.json"
_SCHEMA_FILE = "schema.sql"
_DB = None
_CABINS = ("basic_economy", "economy", "business")
_BAG_FEE = 50
_INSURANCE_FEE = 30


def _db():
    global _DB
    if _DB is None:
        with open(_STATE_FILE, encoding="utf-8") as f:
            state = json.load(f)
        with open(_SCHEMA_FILE, encoding="utf-8") as f:
            schema = f.read()
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.row_factory = sqlite3.Row
        db.executescript(schema)
        for table, rows in state.items():
            for row in rows:
                cols = ", ".join(row)
                db.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        _DB = db
    return _DB


@contextlib.contextmanager
def _change():
    """A transaction: all of a tool's writes, or none of them when it raises."""
    db = _db()
    db.execute("SAVEPOINT tool_call")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK TO tool_call")
        db.execute("RELEASE tool_call")
        raise
    db.execute("RELEASE tool_call")
    with open(_STATE_FILE, "w", encoding="utf-8") as f:
        json.dump(dump_environment_state(), f)


def _one(db, sql, args, missing):
    row = db.execute(sql, args).fetchone()
    if row is None:
        raise ValueError(missing)
    return dict(row)


def _user(db, user_id):
    return _one(db, "SELECT * FROM users WHERE user_id = ?", (user_id,), f"user {user_id!r} not found")


def _reservation(db, reservation_id):
    return _one(db, "SELECT * FROM reservations WHERE reservation_id = ?", (reservation_id,),
                f"reservation {reservation_id!r} not found")


def _flight(db, flight_number, date):
    return _one(db, "SELECT * FROM flights WHERE flight_number = ? AND date = ?", (flight_number, date),
                f"flight {flight_number} does not fly on {date}")


def _payment_method(db, user_id, payment_method_id):
    row = db.execute("SELECT * FROM payment_methods WHERE payment_method_id = ?", (payment_method_id,)).fetchone()
    if row is None or row["user_id"] != user_id:
        raise ValueError(f"payment method {payment_method_id!r} does not belong to user {user_id!r}")
    return dict(row)


def _record_payment(db, reservation_id, kind, method, amount):
    """A payment (charge) or refund of ``amount``; gift cards and certificates move their balance at once."""
    amount = round(amount, 2)
    if method["kind"] != "credit_card":
        balance = round(method["balance"] + (amount if kind == "refund" else -amount), 2)
        if balance < 0:
            raise ValueError(f"{method['kind'].replace('_', ' ')} {method['payment_method_id']!r} has a balance of "
                             f"{method['balance']:.2f}, less than {amount:.2f}")
        db.execute("UPDATE payment_methods SET balance = ? WHERE payment_method_id = ?",
                   (balance, method["payment_method_id"]))
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM reservation_payments WHERE reservation_id = ?",
                     (reservation_id,)).fetchone()[0]
    db.execute("INSERT INTO reservation_payments (reservation_id, seq, kind, payment_method_id, amount) "
               "VALUES (?, ?, ?, ?, ?)", (reservation_id, seq, kind, method["payment_method_id"], amount))


def _check_cabin(cabin):
    if cabin not in _CABINS:
        raise ValueError(f"cabin must be one of {', '.join(_CABINS)}, not {cabin!r}")


def _segments(db, flight_numbers, dates, cabin, passengers, keep=()):
    """The flights named by ``flight_numbers``/``dates``, checked bookable in ``cabin`` for ``passengers``
    (segments in ``keep`` are already held by the reservation and need no seat)."""
    if len(flight_numbers) != len(dates) or not flight_numbers:
        raise ValueError(f"give one date per flight number ({len(flight_numbers)} flight numbers, {len(dates)} dates)")
    out = []
    for number, date in zip(flight_numbers, dates):
        flight = _flight(db, number, date)
        if (number, date) in keep:
            out.append(flight)
            continue
        if flight["status"] not in ("available", "delayed"):
            raise ValueError(f"flight {number} on {date} is {flight['status']} and cannot be booked")
        if flight[f"seats_{cabin}"] < passengers:
            raise ValueError(f"flight {number} on {date} has {flight[f'seats_{cabin}']} {cabin} seats left, "
                             f"not {passengers}")
        out.append(flight)
    for a, b in zip(out, out[1:]):
        if a["destination"] != b["origin"]:
            raise ValueError(f"flight {b['flight_number']} leaves from {b['origin']}, not from {a['destination']} "
                             f"where flight {a['flight_number']} lands")
    return out


def _route_problem(flights, origin, destination, flight_type):
    stops = [flights[0]["origin"]] + [f["destination"] for f in flights]
    if stops[0] != origin:
        return f"the first flight leaves from {stops[0]}, not {origin}"
    if flight_type == "one_way" and stops[-1] != destination:
        return f"the last flight lands in {stops[-1]}, not {destination}"
    if flight_type == "round_trip" and (destination not in stops[1:-1] or stops[-1] != origin):
        return f"a round trip must fly {origin} to {destination} and back to {origin}"
    return None


def _seats(db, flight_number, date, cabin, delta):
    db.execute(f"UPDATE flights SET seats_{cabin} = seats_{cabin} + ? WHERE flight_number = ? AND date = ?",
               (delta, flight_number, date))


def _passenger_count(db, reservation_id):
    return db.execute("SELECT COUNT(*) FROM reservation_passengers WHERE reservation_id = ?",
                      (reservation_id,)).fetchone()[0]


def get_user_details(user_id: str) -> dict:
    """Get a member's profile: name, email, date of birth, membership, payment methods and reservation ids.

    Args:
        user_id: the user id, e.g. 'amelia_wilson_1234'.

    Returns:
        The member's details.
    """
    db = _db()
    user = _user(db, user_id)
    methods = [{k: v for k, v in dict(r).items() if k != "user_id" and v is not None}
               for r in db.execute("SELECT * FROM payment_methods WHERE user_id = ? ORDER BY payment_method_id",
                                   (user_id,))]
    reservations = [r[0] for r in db.execute("SELECT reservation_id FROM reservations WHERE user_id = ? "
                                             "ORDER BY reservation_id", (user_id,))]
    return {**user, "payment_methods": methods, "reservations": reservations}


def list_all_airports() -> dict:
    """List the airports the airline flies to.

    Returns:
        A mapping of airport code to city.
    """
    return {r["code"]: r["city"] for r in _db().execute("SELECT * FROM airports ORDER BY code")}


def search_direct_flight(origin: str, destination: str, date: str) -> list:
    """Find the direct flights between two airports on a date, with seats left and prices per cabin.

    Args:
        origin: the origin airport code, e.g. 'JFK'.
        destination: the destination airport code, e.g. 'LAX'.
        date: the date of the flight, 'YYYY-MM-DD', e.g. '2024-05-20'.

    Returns:
        The bookable flights (status available or delayed).
    """
    rows = _db().execute("SELECT * FROM flights WHERE origin = ? AND destination = ? AND date = ? "
                         "AND status IN ('available', 'delayed') ORDER BY departure", (origin, destination, date))
    return [dict(r) for r in rows]


def search_onestop_flight(origin: str, destination: str, date: str) -> list:
    """Find connections with one stop between two airports, the first flight leaving on a date.

    Args:
        origin: the origin airport code, e.g. 'JFK'.
        destination: the destination airport code, e.g. 'SEA'.
        date: the date of the first flight, 'YYYY-MM-DD', e.g. '2024-05-20'.

    Returns:
        Pairs of flights: the second leaves the stop after the first lands, the same day.
    """
    db = _db()
    pairs = db.execute("SELECT a.flight_number AS f1, b.flight_number AS f2 FROM flights a JOIN flights b "
                       "ON b.origin = a.destination AND b.date = a.date AND b.departure > a.arrival "
                       "WHERE a.origin = ? AND b.destination = ? AND a.date = ? "
                       "AND a.status IN ('available', 'delayed') AND b.status IN ('available', 'delayed') "
                       "ORDER BY a.departure, b.departure", (origin, destination, date)).fetchall()
    return [[_flight(db, p["f1"], date), _flight(db, p["f2"], date)] for p in pairs]


def get_flight_status(flight_number: str, date: str) -> str:
    """Get the status of a flight on a date.

    Args:
        flight_number: the flight number, e.g. 'HAT107'.
        date: the date, 'YYYY-MM-DD', e.g. '2024-05-20'.

    Returns:
        One of available, delayed, cancelled, flying, landed.
    """
    return _flight(_db(), flight_number, date)["status"]


def get_reservation_details(reservation_id: str) -> dict:
    """Get a reservation: route, cabin, flights, passengers, baggage, insurance and payments.

    Args:
        reservation_id: the reservation id, e.g. 'ZFA04Y'.

    Returns:
        The reservation's details.
    """
    db = _db()
    out = _reservation(db, reservation_id)
    out["flights"] = [dict(r) for r in db.execute(
        "SELECT rf.flight_number, rf.date, f.origin, f.destination, rf.price FROM reservation_flights rf "
        "JOIN flights f USING (flight_number, date) WHERE reservation_id = ? ORDER BY seq", (reservation_id,))]
    out["passengers"] = [dict(r) for r in db.execute(
        "SELECT first_name, last_name, dob FROM reservation_passengers WHERE reservation_id = ? ORDER BY seq",
        (reservation_id,))]
    out["payments"] = [dict(r) for r in db.execute(
        "SELECT kind, payment_method_id, amount FROM reservation_payments WHERE reservation_id = ? ORDER BY seq",
        (reservation_id,))]
    return out


def book_reservation(user_id: str, origin: str, destination: str, flight_type: Literal["one_way", "round_trip"],
                     cabin: Literal["basic_economy", "economy", "business"], flight_numbers: list[str],
                     dates: list[str], passenger_first_names: list[str], passenger_last_names: list[str],
                     passenger_dobs: list[str], payment_method_id: str, total_baggages: int, nonfree_baggages: int,
                     insurance: Literal["yes", "no"]) -> dict:
    """Book a reservation for up to five passengers, paid with one of the member's payment methods.

    Args:
        user_id: the member who books, e.g. 'amelia_wilson_1234'.
        origin: the origin airport code of the trip, e.g. 'JFK'.
        destination: the destination airport code of the trip, e.g. 'LAX'.
        flight_type: one_way, or round_trip (out to the destination and back to the origin).
        cabin: the cabin, the same for every flight.
        flight_numbers: the flights in travel order, e.g. ['HAT107', 'HAT108'].
        dates: the date of each flight, 'YYYY-MM-DD', in the same order, e.g. ['2024-05-20', '2024-05-23'].
        passenger_first_names: each passenger's first name, e.g. ['Amelia', 'Noah'].
        passenger_last_names: each passenger's last name, in the same order, e.g. ['Wilson', 'Wilson'].
        passenger_dobs: each passenger's date of birth, 'YYYY-MM-DD', in the same order.
        payment_method_id: the member's payment method that pays the total.
        total_baggages: the number of checked bags.
        nonfree_baggages: how many of those bags are paid (50 dollars each).
        insurance: whether to add travel insurance (30 dollars per passenger).

    Returns:
        The new reservation's details.
    """
    _check_cabin(cabin)
    if flight_type not in ("one_way", "round_trip"):
        raise ValueError(f"flight_type must be one_way or round_trip, not {flight_type!r}")
    if insurance not in ("yes", "no"):
        raise ValueError(f"insurance must be 'yes' or 'no', not {insurance!r}")
    passengers = list(zip(passenger_first_names, passenger_last_names, passenger_dobs))
    if not passengers or len({len(passenger_first_names), len(passenger_last_names), len(passenger_dobs)}) != 1:
        raise ValueError("give a first name, a last name and a date of birth for each passenger")
    if len(passengers) > 5:
        raise ValueError(f"a reservation holds at most 5 passengers, not {len(passengers)}")
    if not 0 <= nonfree_baggages <= total_baggages:
        raise ValueError("nonfree_baggages must be between 0 and total_baggages")
    with _change() as db:
        _user(db, user_id)
        method = _payment_method(db, user_id, payment_method_id)
        flights = _segments(db, flight_numbers, dates, cabin, len(passengers))
        problem = _route_problem(flights, origin, destination, flight_type)
        if problem:
            raise ValueError(problem)
        count = db.execute("SELECT COUNT(*) FROM reservations").fetchone()[0]
        key = f"{count}|{user_id}|{'|'.join(flight_numbers)}|{'|'.join(dates)}"
        reservation_id = hashlib.sha256(key.encode()).hexdigest()[:6].upper()
        db.execute("INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')",
                   (reservation_id, user_id, origin, destination, flight_type, cabin, NOW, total_baggages,
                    nonfree_baggages, insurance))
        total = 0.0
        for seq, flight in enumerate(flights, 1):
            price = flight[f"price_{cabin}"]
            db.execute("INSERT INTO reservation_flights VALUES (?, ?, ?, ?, ?)",
                       (reservation_id, seq, flight["flight_number"], flight["date"], price))
            _seats(db, flight["flight_number"], flight["date"], cabin, -len(passengers))
            total += price * len(passengers)
        for seq, (first, last, dob) in enumerate(passengers, 1):
            db.execute("INSERT INTO reservation_passengers VALUES (?, ?, ?, ?, ?)",
                       (reservation_id, seq, first, last, dob))
        total += _INSURANCE_FEE * len(passengers) * (insurance == "yes") + _BAG_FEE * nonfree_baggages
        _record_payment(db, reservation_id, "payment", method, total)
    return get_reservation_details(reservation_id)


def cancel_reservation(reservation_id: str) -> dict:
    """Cancel a whole reservation; every payment is refunded to the method that made it.

    Args:
        reservation_id: the reservation id, e.g. 'ZFA04Y'.

    Returns:
        The reservation's details after the cancellation.
    """
    with _change() as db:
        reservation = _reservation(db, reservation_id)
        if reservation["status"] != "active":
            raise ValueError(f"reservation {reservation_id!r} is already cancelled")
        segments = db.execute("SELECT rf.flight_number, rf.date, f.status FROM reservation_flights rf JOIN flights f "
                              "USING (flight_number, date) WHERE reservation_id = ?", (reservation_id,)).fetchall()
        flown = [s["flight_number"] for s in segments if s["status"] in ("flying", "landed")]
        if flown:
            raise ValueError(f"flight {flown[0]} of reservation {reservation_id!r} has already departed; "
                             "it cannot be cancelled")
        for r in db.execute("SELECT * FROM reservation_payments WHERE reservation_id = ? ORDER BY seq",
                            (reservation_id,)).fetchall():
            method = dict(db.execute("SELECT * FROM payment_methods WHERE payment_method_id = ?",
                                     (r["payment_method_id"],)).fetchone())
            _record_payment(db, reservation_id, "payment" if r["kind"] == "refund" else "refund", method, r["amount"])
        passengers = _passenger_count(db, reservation_id)
        for s in segments:
            _seats(db, s["flight_number"], s["date"], reservation["cabin"], passengers)
        db.execute("UPDATE reservations SET status = 'cancelled' WHERE reservation_id = ?", (reservation_id,))
    return get_reservation_details(reservation_id)


def update_reservation_flights(reservation_id: str, cabin: Literal["basic_economy", "economy", "business"],
                               flight_numbers: list[str], dates: list[str], payment_method_id: str) -> dict:
    """Change a reservation's flights or cabin, keeping its origin, destination and trip type.

    Args:
        reservation_id: the reservation id, e.g. 'ZFA04Y'.
        cabin: the cabin for every flight (may differ from the current one).
        flight_numbers: ALL the flights of the reservation after the change, in travel order, e.g. ['HAT107', 'HAT108'].
        dates: the date of each flight, 'YYYY-MM-DD', in the same order.
        payment_method_id: the member's payment method that pays or receives the price difference.

    Returns:
        The reservation's details after the change.
    """
    _check_cabin(cabin)
    with _change() as db:
        reservation = _reservation(db, reservation_id)
        if reservation["status"] != "active":
            raise ValueError(f"reservation {reservation_id!r} is cancelled")
        method = _payment_method(db, reservation["user_id"], payment_method_id)
        old = [dict(r) for r in db.execute("SELECT * FROM reservation_flights WHERE reservation_id = ? ORDER BY seq",
                                           (reservation_id,))]
        wanted = list(zip(flight_numbers, dates))
        held = {(r["flight_number"], r["date"]) for r in old} & set(wanted) if cabin == reservation["cabin"] else set()
        if reservation["cabin"] == "basic_economy" and wanted != [(r["flight_number"], r["date"]) for r in old]:
            raise ValueError("the flights of a basic economy reservation cannot be changed")
        passengers = _passenger_count(db, reservation_id)
        flights = _segments(db, flight_numbers, dates, cabin, passengers, keep=held)
        problem = _route_problem(flights, reservation["origin"], reservation["destination"], reservation["flight_type"])
        if problem:
            raise ValueError(problem)
        old_prices = {(r["flight_number"], r["date"]): r["price"] for r in old}
        prices = [old_prices[key] if key in held else f[f"price_{cabin}"] for key, f in zip(wanted, flights)]
        for r in old:
            if (r["flight_number"], r["date"]) not in held:
                _seats(db, r["flight_number"], r["date"], reservation["cabin"], passengers)
        for key in wanted:
            if key not in held:
                _seats(db, key[0], key[1], cabin, -passengers)
        difference = round((sum(prices) - sum(r["price"] for r in old)) * passengers, 2)
        if difference:
            _record_payment(db, reservation_id, "payment" if difference > 0 else "refund", method, abs(difference))
        db.execute("DELETE FROM reservation_flights WHERE reservation_id = ?", (reservation_id,))
        for seq, ((number, date), price) in enumerate(zip(wanted, prices), 1):
            db.execute("INSERT INTO reservation_flights VALUES (?, ?, ?, ?, ?)", (reservation_id, seq, number, date, price))
        db.execute("UPDATE reservations SET cabin = ? WHERE reservation_id = ?", (cabin, reservation_id))
    return get_reservation_details(reservation_id)


def update_reservation_baggages(reservation_id: str, total_baggages: int, nonfree_baggages: int,
                                payment_method_id: str) -> dict:
    """Add checked bags to a reservation (bags cannot be removed); each extra paid bag costs 50 dollars.

    Args:
        reservation_id: the reservation id, e.g. 'ZFA04Y'.
        total_baggages: the new total number of checked bags.
        nonfree_baggages: the new number of paid bags.
        payment_method_id: the member's payment method that pays for the extra paid bags.

    Returns:
        The reservation's details after the change.
    """
    with _change() as db:
        reservation = _reservation(db, reservation_id)
        if reservation["status"] != "active":
            raise ValueError(f"reservation {reservation_id!r} is cancelled")
        if total_baggages < reservation["total_baggages"] or nonfree_baggages < reservation["nonfree_baggages"]:
            raise ValueError(f"bags cannot be removed: the reservation has {reservation['total_baggages']} bags, "
                             f"{reservation['nonfree_baggages']} of them paid")
        if nonfree_baggages > total_baggages:
            raise ValueError("nonfree_baggages cannot exceed total_baggages")
        method = _payment_method(db, reservation["user_id"], payment_method_id)
        extra = nonfree_baggages - reservation["nonfree_baggages"]
        if extra:
            _record_payment(db, reservation_id, "payment", method, _BAG_FEE * extra)
        db.execute("UPDATE reservations SET total_baggages = ?, nonfree_baggages = ? WHERE reservation_id = ?",
                   (total_baggages, nonfree_baggages, reservation_id))
    return get_reservation_details(reservation_id)


def update_reservation_passengers(reservation_id: str, first_names: list[str], last_names: list[str],
                                  dobs: list[str]) -> dict:
    """Change the passengers' details of a reservation; the number of passengers cannot change.

    Args:
        reservation_id: the reservation id, e.g. 'ZFA04Y'.
        first_names: every passenger's first name after the change, in order.
        last_names: every passenger's last name after the change, in the same order.
        dobs: every passenger's date of birth after the change, 'YYYY-MM-DD', in the same order.

    Returns:
        The reservation's details after the change.
    """
    with _change() as db:
        reservation = _reservation(db, reservation_id)
        if reservation["status"] != "active":
            raise ValueError(f"reservation {reservation_id!r} is cancelled")
        count = _passenger_count(db, reservation_id)
        if not len(first_names) == len(last_names) == len(dobs) == count:
            raise ValueError(f"the reservation has {count} passengers: give {count} first names, last names and "
                             "dates of birth (the number of passengers cannot change)")
        db.execute("DELETE FROM reservation_passengers WHERE reservation_id = ?", (reservation_id,))
        for seq, passenger in enumerate(zip(first_names, last_names, dobs), 1):
            db.execute("INSERT INTO reservation_passengers VALUES (?, ?, ?, ?, ?)", (reservation_id, seq, *passenger))
    return get_reservation_details(reservation_id)


def send_certificate(user_id: str, amount: int) -> str:
    """Give a member a travel certificate as a gesture of goodwill (see the policy for when and how much).

    Args:
        user_id: the user id, e.g. 'amelia_wilson_1234'.
        amount: the certificate's value in dollars.

    Returns:
        The new certificate's payment method id.
    """
    if not 0 < amount <= 500:
        raise ValueError(f"a certificate is worth between 1 and 500 dollars, not {amount}")
    with _change() as db:
        _user(db, user_id)
        number = 9000000 + db.execute("SELECT COUNT(*) FROM payment_methods WHERE kind = 'certificate'").fetchone()[0]
        while db.execute("SELECT 1 FROM payment_methods WHERE payment_method_id = ?", (f"certificate_{number}",)).fetchone():
            number += 1
        method_id = f"certificate_{number}"
        db.execute("INSERT INTO payment_methods VALUES (?, ?, 'certificate', NULL, NULL, ?)",
                   (method_id, user_id, float(amount)))
    return method_id


def transfer_to_human_agents(summary: str) -> str:
    """Hand the conversation to a human agent, with a summary of the member's issue.

    Args:
        summary: a short summary of the member's request and what was done.

    Returns:
        A confirmation that the member was transferred.
    """
    if not summary.strip():
        raise ValueError("summary is empty: say what the member needs")
    return "Transfer successful"


def dump_environment_state(table: str | None = None) -> dict:
    """Read out the environment state (the environment's own check; never offered to an agent).

    Args:
        table: one table to read, in columnar form; None reads every table as rows.

    Returns:
        {"columns": [...], "rows": [[...], ...]} for one table, else {table: [row, ...]} for all.
    """
    db = _db()
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    if table is not None:
        if table not in tables:
            raise ValueError(f"no table {table!r}")
        cursor = db.execute(f"SELECT * FROM {table} ORDER BY rowid")
        return {"columns": [c[0] for c in cursor.description], "rows": [list(r) for r in cursor]}
    return {t: [dict(r) for r in db.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in tables}
