"""Writes the bundled text-to-SQL databases (``databases/*.sql``) from fixed seeds.

``python -m synthloom.envs.text_to_sql.make_databases`` regenerates them; the output is a pure function of the
code (``tests/envs/test_text_to_sql.py`` checks the bundled files equal it). Three schemas with realistic,
invented data: ``university`` (departments, instructors, students, courses, sections, enrollments with grades),
``retail`` (stores, employees, categories, products, customers, sales, sale items) and ``flights`` (real
airports and airlines with great-circle distances; invented aircraft, flights, passengers and bookings).
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .seed_data import AIRLINES, AIRPORTS, COUNTRIES, DEPARTMENTS, FIRST, GRADES, LAST, MODELS, PREFIX, PRODUCTS, STORES

DATABASES_DIR = Path(__file__).parent / "databases"


def _names(rng: random.Random, n: int) -> list[str]:
    pool = [f"{f} {la}" for f in FIRST for la in LAST]
    return rng.sample(pool, n)


def _sql_value(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(round(v, 2))
    return "'" + str(v).replace("'", "''") + "'"


def _insert(table: str, columns: Sequence[str], rows: list[Sequence[Any]]) -> str:
    values = ",\n".join("  (" + ", ".join(_sql_value(v) for v in row) + ")" for row in rows)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES\n{values};\n"


def _day(rng: random.Random, start: date, end: date) -> str:
    return (start + timedelta(days=rng.randrange((end - start).days + 1))).isoformat()


# -- university ----------------------------------------------------------------------------------------------------

UNIVERSITY_SCHEMA = """CREATE TABLE departments (
  dept_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  building TEXT NOT NULL,
  budget INTEGER NOT NULL
);
CREATE TABLE instructors (
  instructor_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  dept_id INTEGER NOT NULL REFERENCES departments(dept_id),
  title TEXT NOT NULL CHECK (title IN ('Lecturer', 'Assistant Professor', 'Associate Professor', 'Professor')),
  salary INTEGER NOT NULL,
  hire_year INTEGER NOT NULL
);
CREATE TABLE students (
  student_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  major_dept_id INTEGER NOT NULL REFERENCES departments(dept_id),
  enrollment_year INTEGER NOT NULL,
  country TEXT NOT NULL
);
CREATE TABLE courses (
  course_id INTEGER PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  dept_id INTEGER NOT NULL REFERENCES departments(dept_id),
  credits INTEGER NOT NULL,
  level INTEGER NOT NULL CHECK (level IN (100, 200, 300, 400))
);
CREATE TABLE sections (
  section_id INTEGER PRIMARY KEY,
  course_id INTEGER NOT NULL REFERENCES courses(course_id),
  instructor_id INTEGER NOT NULL REFERENCES instructors(instructor_id),
  term TEXT NOT NULL CHECK (term IN ('Fall', 'Spring', 'Summer')),
  year INTEGER NOT NULL,
  room TEXT NOT NULL,
  capacity INTEGER NOT NULL
);
CREATE TABLE enrollments (
  enrollment_id INTEGER PRIMARY KEY,
  student_id INTEGER NOT NULL REFERENCES students(student_id),
  section_id INTEGER NOT NULL REFERENCES sections(section_id),
  grade TEXT CHECK (grade IN ('A', 'B', 'C', 'D', 'F')),  -- NULL: still in progress
  grade_points REAL
);
"""


def university() -> str:
    rng = random.Random(2024_01)
    depts = [(i, name, building, rng.randrange(400, 2400) * 1000) for i, (name, building, _) in enumerate(DEPARTMENTS, 1)]
    titles = ["Lecturer", "Assistant Professor", "Associate Professor", "Professor"]
    base_salary = {"Lecturer": 62000, "Assistant Professor": 81000, "Associate Professor": 98000, "Professor": 124000}
    instructors = []
    for i, name in enumerate(_names(rng, 40), 1):
        title = rng.choice(titles)
        instructors.append((i, name, (i - 1) % len(depts) + 1, title, base_salary[title] + rng.randrange(-60, 120) * 100,
                            rng.randrange(1992, 2024)))
    students = []
    for i, name in enumerate(_names(rng, 160), 1):
        email = name.lower().replace(" ", ".").replace("'", "").replace("ü", "u") + f"{i}@uni.example.edu"
        students.append((i, name, email, rng.randrange(1, len(depts) + 1), rng.randrange(2019, 2025), rng.choice(COUNTRIES)))
    courses = []
    for d, (dept, _, titles_) in enumerate(DEPARTMENTS, 1):
        for j, title in enumerate(titles_):
            level = min(400, 100 + 100 * (j * 4 // len(titles_)))
            courses.append((len(courses) + 1, f"{PREFIX[dept]}{level + j + 1}", title, d, rng.choice([3, 3, 4, 4, 5]), level))
    by_dept = {d[0]: [ins for ins in instructors if ins[2] == d[0]] for d in depts}
    sections = []
    for course in courses:
        for _ in range(rng.choice([1, 2, 2, 3])):
            term, year = rng.choice(["Fall", "Spring", "Summer"]), rng.choice([2022, 2023, 2024])
            room = f"{depts[course[3] - 1][2].split()[0][:3].upper()}-{rng.randrange(101, 420)}"
            sections.append((len(sections) + 1, course[0], rng.choice(by_dept[course[3]])[0], term, year, room,
                             rng.choice([20, 30, 40, 60, 120])))
    enrollments, seen = [], set()
    while len(enrollments) < 300:
        student, section = rng.randrange(1, len(students) + 1), rng.choice(sections)
        if (student, section[0]) in seen:
            continue
        seen.add((student, section[0]))
        in_progress = section[4] == 2024 and section[3] == "Fall" and rng.random() < 0.7
        grade = None if in_progress else rng.choices(list(GRADES), weights=[30, 35, 20, 8, 7])[0]
        enrollments.append((len(enrollments) + 1, student, section[0], grade, None if grade is None else GRADES[grade]))
    return "".join(["-- University sample database (synthloom text-to-SQL environment); all data invented.\n",
                    UNIVERSITY_SCHEMA,
                    _insert("departments", ["dept_id", "name", "building", "budget"], depts),
                    _insert("instructors", ["instructor_id", "name", "dept_id", "title", "salary", "hire_year"], instructors),
                    _insert("students", ["student_id", "name", "email", "major_dept_id", "enrollment_year", "country"], students),
                    _insert("courses", ["course_id", "code", "title", "dept_id", "credits", "level"], courses),
                    _insert("sections", ["section_id", "course_id", "instructor_id", "term", "year", "room", "capacity"], sections),
                    _insert("enrollments", ["enrollment_id", "student_id", "section_id", "grade", "grade_points"], enrollments)])


# -- retail --------------------------------------------------------------------------------------------------------

RETAIL_SCHEMA = """CREATE TABLE stores (
  store_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  city TEXT NOT NULL,
  state TEXT NOT NULL,
  opened TEXT NOT NULL,        -- ISO date
  floor_area_sqm INTEGER NOT NULL
);
CREATE TABLE employees (
  employee_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  store_id INTEGER NOT NULL REFERENCES stores(store_id),
  role TEXT NOT NULL CHECK (role IN ('Store Manager', 'Assistant Manager', 'Cashier', 'Sales Associate', 'Stock Clerk')),
  hire_date TEXT NOT NULL,     -- ISO date
  hourly_wage REAL NOT NULL,
  manager_id INTEGER REFERENCES employees(employee_id)
);
CREATE TABLE categories (
  category_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE products (
  product_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  category_id INTEGER NOT NULL REFERENCES categories(category_id),
  brand TEXT NOT NULL,
  unit_price REAL NOT NULL,
  unit_cost REAL NOT NULL
);
CREATE TABLE customers (
  customer_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  city TEXT NOT NULL,
  loyalty_tier TEXT NOT NULL CHECK (loyalty_tier IN ('none', 'silver', 'gold', 'platinum')),
  joined TEXT NOT NULL         -- ISO date
);
CREATE TABLE sales (
  sale_id INTEGER PRIMARY KEY,
  store_id INTEGER NOT NULL REFERENCES stores(store_id),
  employee_id INTEGER NOT NULL REFERENCES employees(employee_id),
  customer_id INTEGER REFERENCES customers(customer_id),  -- NULL: an anonymous walk-in sale
  sale_date TEXT NOT NULL,     -- ISO date
  payment_method TEXT NOT NULL CHECK (payment_method IN ('cash', 'card', 'mobile'))
);
CREATE TABLE sale_items (
  sale_id INTEGER NOT NULL REFERENCES sales(sale_id),
  product_id INTEGER NOT NULL REFERENCES products(product_id),
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  unit_price REAL NOT NULL,
  discount REAL NOT NULL DEFAULT 0,   -- fraction of the price taken off, 0 to 0.5
  PRIMARY KEY (sale_id, product_id)
);
"""


def retail() -> str:
    rng = random.Random(2024_02)
    stores = [(i, f"{city} {rng.choice(['Downtown', 'Eastside', 'Westgate', 'Northpoint', 'Riverside'])}", city, state,
               _day(rng, date(2008, 1, 1), date(2021, 12, 31)), rng.randrange(900, 4200)) for i, (city, state) in enumerate(STORES, 1)]
    wage = {"Store Manager": 34.0, "Assistant Manager": 26.5, "Cashier": 17.25, "Sales Associate": 18.0, "Stock Clerk": 17.75}
    employees: list[tuple] = []
    names = iter(_names(rng, 90))
    for store in stores:
        manager = len(employees) + 1
        employees.append((manager, next(names), store[0], "Store Manager", _day(rng, date(2012, 1, 1), date(2020, 12, 31)),
                          wage["Store Manager"] + rng.randrange(0, 40) / 4, None))
        for role in rng.sample(["Assistant Manager", "Cashier", "Cashier", "Sales Associate", "Sales Associate", "Stock Clerk"],
                               rng.randrange(4, 7)):
            employees.append((len(employees) + 1, next(names), store[0], role, _day(rng, date(2015, 1, 1), date(2024, 6, 30)),
                              wage[role] + rng.randrange(0, 24) / 4, manager))
    categories = [(i, name) for i, name in enumerate(PRODUCTS, 1)]
    products = []
    for cat_id, items in enumerate(PRODUCTS.values(), 1):
        for name, brand, price in items:
            products.append((len(products) + 1, name, cat_id, brand, price, round(price * rng.uniform(0.45, 0.75), 2)))
    tiers = ["none"] * 5 + ["silver"] * 3 + ["gold"] * 2 + ["platinum"]
    customers = [(i, name, rng.choice(STORES)[0], rng.choice(tiers), _day(rng, date(2016, 1, 1), date(2024, 6, 30)))
                 for i, name in enumerate(_names(rng, 120), 1)]
    sales, items = [], []
    by_store = {s[0]: [e[0] for e in employees if e[2] == s[0] and e[3] != "Stock Clerk"] for s in stores}
    for sid in range(1, 181):
        store = rng.choice(stores)[0]
        customer = rng.randrange(1, len(customers) + 1) if rng.random() < 0.75 else None
        sales.append((sid, store, rng.choice(by_store[store]), customer, _day(rng, date(2024, 1, 1), date(2024, 6, 30)),
                      rng.choices(["cash", "card", "mobile"], weights=[2, 6, 3])[0]))
    while len(items) < 300:
        sale = rng.randrange(1, len(sales) + 1)
        product = rng.choice(products)
        if any(i[0] == sale and i[1] == product[0] for i in items):
            continue
        items.append((sale, product[0], rng.choices([1, 2, 3, 4, 6], weights=[10, 6, 3, 2, 1])[0], product[4],
                      rng.choice([0.0] * 8 + [0.1, 0.15, 0.25])))
    items.sort()
    return "".join(["-- Retail chain sample database (synthloom text-to-SQL environment); many brands are real, all stores, people,\n"
                    "-- prices and sales are invented.\n",
                    RETAIL_SCHEMA,
                    _insert("stores", ["store_id", "name", "city", "state", "opened", "floor_area_sqm"], stores),
                    _insert("employees", ["employee_id", "name", "store_id", "role", "hire_date", "hourly_wage", "manager_id"], employees),
                    _insert("categories", ["category_id", "name"], categories),
                    _insert("products", ["product_id", "name", "category_id", "brand", "unit_price", "unit_cost"], products),
                    _insert("customers", ["customer_id", "name", "city", "loyalty_tier", "joined"], customers),
                    _insert("sales", ["sale_id", "store_id", "employee_id", "customer_id", "sale_date", "payment_method"], sales),
                    _insert("sale_items", ["sale_id", "product_id", "quantity", "unit_price", "discount"], items)])


# -- flights -------------------------------------------------------------------------------------------------------

FLIGHTS_SCHEMA = """CREATE TABLE airports (
  airport_code TEXT PRIMARY KEY,   -- IATA code
  name TEXT NOT NULL,
  city TEXT NOT NULL,
  country TEXT NOT NULL,
  latitude REAL NOT NULL,
  longitude REAL NOT NULL
);
CREATE TABLE airlines (
  airline_code TEXT PRIMARY KEY,   -- IATA code
  name TEXT NOT NULL,
  country TEXT NOT NULL,
  alliance TEXT                    -- NULL: in no alliance
);
CREATE TABLE aircraft (
  aircraft_id INTEGER PRIMARY KEY,
  registration TEXT NOT NULL UNIQUE,
  model TEXT NOT NULL,
  manufacturer TEXT NOT NULL,
  seats INTEGER NOT NULL,
  airline_code TEXT NOT NULL REFERENCES airlines(airline_code),
  year_built INTEGER NOT NULL
);
CREATE TABLE flights (
  flight_id INTEGER PRIMARY KEY,
  flight_number TEXT NOT NULL,
  airline_code TEXT NOT NULL REFERENCES airlines(airline_code),
  origin TEXT NOT NULL REFERENCES airports(airport_code),
  destination TEXT NOT NULL REFERENCES airports(airport_code),
  departure TEXT NOT NULL,         -- ISO date and time, local to the origin
  duration_min INTEGER NOT NULL,
  distance_km INTEGER NOT NULL,
  aircraft_id INTEGER NOT NULL REFERENCES aircraft(aircraft_id),
  status TEXT NOT NULL CHECK (status IN ('scheduled', 'departed', 'landed', 'delayed', 'cancelled'))
);
CREATE TABLE passengers (
  passenger_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  nationality TEXT NOT NULL,
  birth_year INTEGER NOT NULL,
  frequent_flyer_tier TEXT         -- NULL: not a member
);
CREATE TABLE bookings (
  booking_id INTEGER PRIMARY KEY,
  flight_id INTEGER NOT NULL REFERENCES flights(flight_id),
  passenger_id INTEGER NOT NULL REFERENCES passengers(passenger_id),
  seat TEXT NOT NULL,
  cabin TEXT NOT NULL CHECK (cabin IN ('economy', 'premium', 'business', 'first')),
  price REAL NOT NULL,
  booked_on TEXT NOT NULL          -- ISO date
);
"""


def _km(a: tuple, b: tuple) -> int:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[4], a[5], b[4], b[5]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return round(2 * 6371 * math.asin(math.sqrt(h)))


def flights() -> str:
    rng = random.Random(2024_03)
    airports = {a[0]: a for a in AIRPORTS}
    aircraft = []
    for airline in AIRLINES:
        for _ in range(rng.randrange(3, 6)):
            model, maker, seats = rng.choice(MODELS)
            reg = f"{airline[0]}-{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.randrange(100, 999)}"
            aircraft.append((len(aircraft) + 1, reg, model, maker, seats + rng.randrange(-12, 13), airline[0], rng.randrange(2006, 2024)))
    flights_, numbers = [], set()
    while len(flights_) < 200:
        airline = rng.choice(AIRLINES)
        origin = airline[4] if rng.random() < 0.6 else rng.choice(AIRPORTS)[0]
        dest = rng.choice([a[0] for a in AIRPORTS if a[0] != origin])
        number = f"{airline[0]}{rng.randrange(10, 2999)}"
        if number in numbers:
            continue
        numbers.add(number)
        km = _km(airports[origin], airports[dest])
        dep = datetime(2024, 7, 1, rng.randrange(5, 23), rng.choice([0, 15, 30, 45])) + timedelta(days=rng.randrange(0, 30))
        fleet = [a for a in aircraft if a[5] == airline[0]]
        status = rng.choices(["scheduled", "departed", "landed", "delayed", "cancelled"], weights=[5, 1, 8, 2, 1])[0]
        flights_.append((len(flights_) + 1, number, airline[0], origin, dest, dep.isoformat(timespec="minutes"),
                         round(km / 800 * 60) + 30, km, rng.choice(fleet)[0], status))
    tiers = [None, None, None, "silver", "gold", "platinum"]
    passengers = [(i, name, rng.choice(COUNTRIES), rng.randrange(1948, 2008), rng.choice(tiers))
                  for i, name in enumerate(_names(rng, 150), 1)]
    bookings, taken = [], set()
    fare = {"economy": 0.11, "premium": 0.19, "business": 0.42, "first": 0.75}
    while len(bookings) < 300:
        flight = rng.choice(flights_)
        cabin = rng.choices(list(fare), weights=[14, 3, 2, 1])[0]
        seat = f"{rng.randrange(1, 45)}{rng.choice('ABCDEF')}"
        if (flight[0], seat) in taken:
            continue
        taken.add((flight[0], seat))
        price = round(max(59.0, flight[7] * fare[cabin] * rng.uniform(0.8, 1.3)), 2)
        booked = (datetime.fromisoformat(flight[5]) - timedelta(days=rng.randrange(1, 120))).date().isoformat()
        bookings.append((len(bookings) + 1, flight[0], rng.randrange(1, len(passengers) + 1), seat, cabin, price, booked))
    return "".join(["-- Flights sample database (synthloom text-to-SQL environment): airports (approximate coordinates) and\n"
                    "-- airlines are real; aircraft, flights, passengers and bookings are invented.\n",
                    FLIGHTS_SCHEMA,
                    _insert("airports", ["airport_code", "name", "city", "country", "latitude", "longitude"], AIRPORTS),
                    _insert("airlines", ["airline_code", "name", "country", "alliance"], [a[:4] for a in AIRLINES]),
                    _insert("aircraft", ["aircraft_id", "registration", "model", "manufacturer", "seats", "airline_code", "year_built"],
                            aircraft),
                    _insert("flights", ["flight_id", "flight_number", "airline_code", "origin", "destination", "departure",
                                        "duration_min", "distance_km", "aircraft_id", "status"], flights_),
                    _insert("passengers", ["passenger_id", "name", "nationality", "birth_year", "frequent_flyer_tier"], passengers),
                    _insert("bookings", ["booking_id", "flight_id", "passenger_id", "seat", "cabin", "price", "booked_on"], bookings)])


BUILDERS = {"university": university, "retail": retail, "flights": flights}


def scripts() -> dict[str, str]:
    """Each bundled database's SQL script, as this module writes it."""
    return {name: build() for name, build in BUILDERS.items()}


def main(argv: list[str] | None = None) -> int:
    DATABASES_DIR.mkdir(exist_ok=True)
    for name, text in scripts().items():
        (DATABASES_DIR / f"{name}.sql").write_text(text, encoding="utf-8")
        print(f"wrote {DATABASES_DIR / f'{name}.sql'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
