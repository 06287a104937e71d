-- The airline environment: members and their payment methods, airports, dated flights with seats
-- left and prices per cabin, and reservations with their flights, passengers and payments.
-- Times are local to each airport; the current time is 2024-05-15 15:00 (see policy.md).
CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    dob         TEXT NOT NULL,
    membership  TEXT NOT NULL CHECK (membership IN ('regular', 'silver', 'gold'))
);

CREATE TABLE payment_methods (
    payment_method_id TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users(user_id),
    kind              TEXT NOT NULL CHECK (kind IN ('credit_card', 'gift_card', 'certificate')),
    brand             TEXT,
    last_four         TEXT,
    balance           REAL CHECK (balance IS NULL OR balance >= 0)
);

CREATE TABLE airports (
    code  TEXT PRIMARY KEY,
    city  TEXT NOT NULL
);

CREATE TABLE flights (
    flight_number        TEXT NOT NULL,
    date                 TEXT NOT NULL,
    origin               TEXT NOT NULL REFERENCES airports(code),
    destination          TEXT NOT NULL REFERENCES airports(code),
    departure            TEXT NOT NULL,
    arrival              TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('available', 'delayed', 'cancelled', 'flying', 'landed')),
    seats_basic_economy  INTEGER NOT NULL CHECK (seats_basic_economy >= 0),
    seats_economy        INTEGER NOT NULL CHECK (seats_economy >= 0),
    seats_business       INTEGER NOT NULL CHECK (seats_business >= 0),
    price_basic_economy  REAL NOT NULL,
    price_economy        REAL NOT NULL,
    price_business       REAL NOT NULL,
    PRIMARY KEY (flight_number, date)
);

CREATE TABLE reservations (
    reservation_id    TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users(user_id),
    origin            TEXT NOT NULL,
    destination       TEXT NOT NULL,
    flight_type       TEXT NOT NULL CHECK (flight_type IN ('one_way', 'round_trip')),
    cabin             TEXT NOT NULL CHECK (cabin IN ('basic_economy', 'economy', 'business')),
    created_at        TEXT NOT NULL,
    total_baggages    INTEGER NOT NULL CHECK (total_baggages >= 0),
    nonfree_baggages  INTEGER NOT NULL CHECK (nonfree_baggages >= 0),
    insurance         TEXT NOT NULL CHECK (insurance IN ('yes', 'no')),
    status            TEXT NOT NULL CHECK (status IN ('active', 'cancelled'))
);

CREATE TABLE reservation_flights (
    reservation_id  TEXT NOT NULL REFERENCES reservations(reservation_id),
    seq             INTEGER NOT NULL,
    flight_number   TEXT NOT NULL,
    date            TEXT NOT NULL,
    price           REAL NOT NULL,
    PRIMARY KEY (reservation_id, seq)
);

CREATE TABLE reservation_passengers (
    reservation_id  TEXT NOT NULL REFERENCES reservations(reservation_id),
    seq             INTEGER NOT NULL,
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    dob             TEXT NOT NULL,
    PRIMARY KEY (reservation_id, seq)
);

CREATE TABLE reservation_payments (
    reservation_id     TEXT NOT NULL REFERENCES reservations(reservation_id),
    seq                INTEGER NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('payment', 'refund')),
    payment_method_id  TEXT NOT NULL REFERENCES payment_methods(payment_method_id),
    amount             REAL NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (reservation_id, seq)
);
