"""Geography and lookups: countries, capitals, distances and chemical elements from bundled tables.

``data/countries.csv`` holds 79 countries (ISO codes, capital and its coordinates, continent, population,
area, currency, calling code); ``data/elements.csv`` holds all 118 chemical elements (atomic number, symbol,
name, standard atomic mass, group, period). Figures are approximate and dated: populations are rounded
estimates for the year in ``population_year`` (2023), areas are total areas in km², capital coordinates are
rounded city centres, and atomic masses are abridged standard atomic weights (for elements without stable
isotopes, the mass number of the longest-lived isotope). Transcontinental countries are listed under one
continent (Russia under Europe, Turkey and Kazakhstan under Asia). Lanthanides and actinides have no group.
"""

import csv
import difflib
import math
import os
import re
from typing import Literal

CATEGORY = "geography"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

_EARTH_RADIUS_KM = 6371.0088
_KM_PER_MILE = 1.609344
_COUNTRIES: list[dict] | None = None
_ELEMENTS: list[dict] | None = None

Continent = Literal["Africa", "Asia", "Europe", "North America", "South America", "Oceania"]


def _data_path(name: str) -> str:
    base = globals().get("DATA_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    return os.path.join(base, name)


def _countries() -> list[dict]:
    global _COUNTRIES
    if _COUNTRIES is None:
        with open(_data_path("countries.csv"), encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            for key in ("population", "population_year", "area_km2"):
                row[key] = int(row[key])
            for key in ("capital_lat", "capital_lon"):
                row[key] = float(row[key])
        _COUNTRIES = rows
    return _COUNTRIES


def _elements() -> list[dict]:
    global _ELEMENTS
    if _ELEMENTS is None:
        with open(_data_path("elements.csv"), encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            row["number"] = int(row["number"])
            row["atomic_mass"] = float(row["atomic_mass"])
            row["group"] = int(row["group"]) if row["group"] else None
            row["period"] = int(row["period"])
        _ELEMENTS = rows
    return _ELEMENTS


def _country(query: str) -> dict:
    """The country named by ``query``: its name, ISO2 or ISO3 code, case-insensitive."""
    key = str(query).strip().casefold()
    if not key:
        raise ValueError("country must be a country name or ISO code, not an empty string")
    for row in _countries():
        if key in (row["name"].casefold(), row["iso2"].casefold(), row["iso3"].casefold()):
            return row
    names = [row["name"] for row in _countries()]
    close = difflib.get_close_matches(str(query).strip().title(), names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "; give a country name or its ISO2/ISO3 code (e.g. 'FR', 'FRA')"
    raise ValueError(f"unknown country {query!r}{hint}")


def country_info(country: str) -> dict:
    """Look up a country's facts: ISO codes, capital, continent, population, area, currency and calling code.

    Args:
        country: Country name or ISO 3166 alpha-2/alpha-3 code, case-insensitive (e.g. "Japan", "JP", "JPN").

    Returns:
        The country's record: name, iso2, iso3, capital, continent, population, population_year, area_km2,
        currency, calling_code, capital_lat and capital_lon (population and area are approximate).
    """
    return dict(_country(country))


def capital_of(country: str) -> str:
    """Name the capital city of a country.

    Args:
        country: Country name or ISO 3166 alpha-2/alpha-3 code, case-insensitive.

    Returns:
        The capital's name (for Bolivia the constitutional capital Sucre, for South Africa Pretoria).
    """
    return _country(country)["capital"]


def countries_in_continent(continent: Continent, sort_by: Literal["name", "population", "area"] = "name") -> list[str]:
    """List the bundled table's countries on one continent.

    Args:
        continent: The continent to list.
        sort_by: Order of the list: alphabetical by name, or largest first by population or by area.

    Returns:
        Country names on that continent, in the requested order.
    """
    rows = [row for row in _countries() if row["continent"] == continent]
    if not rows:
        raise ValueError(f"unknown continent {continent!r}; use Africa, Asia, Europe, North America, South America or Oceania")
    if sort_by == "name":
        rows.sort(key=lambda r: r["name"])
    elif sort_by == "population":
        rows.sort(key=lambda r: -r["population"])
    elif sort_by == "area":
        rows.sort(key=lambda r: -r["area_km2"])
    else:
        raise ValueError(f"sort_by must be 'name', 'population' or 'area', not {sort_by!r}")
    return [row["name"] for row in rows]


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_between_capitals(country_a: str, country_b: str, unit: Literal["km", "mi"] = "km") -> float:
    """Great-circle (haversine) distance between the capitals of two countries.

    Args:
        country_a: First country's name or ISO code.
        country_b: Second country's name or ISO code.
        unit: Unit of the result: kilometres or statute miles.

    Returns:
        The distance between the two capitals, rounded to 0.1, on a spherical Earth of radius 6371 km.
    """
    a, b = _country(country_a), _country(country_b)
    km = _haversine_km(a["capital_lat"], a["capital_lon"], b["capital_lat"], b["capital_lon"])
    if unit == "km":
        return round(km, 1)
    if unit == "mi":
        return round(km / _KM_PER_MILE, 1)
    raise ValueError(f"unit must be 'km' or 'mi', not {unit!r}")


def compare_population(country_a: str, country_b: str) -> dict:
    """Compare the (approximate) populations of two countries.

    Args:
        country_a: First country's name or ISO code.
        country_b: Second country's name or ISO code.

    Returns:
        larger (name of the more populous country), difference (absolute difference in people), ratio
        (larger population divided by smaller, rounded to 0.01) and both populations with their year.
    """
    a, b = _country(country_a), _country(country_b)
    big, small = (a, b) if a["population"] >= b["population"] else (b, a)
    return {
        "larger": big["name"],
        "difference": big["population"] - small["population"],
        "ratio": round(big["population"] / small["population"], 2),
        "populations": {a["name"]: a["population"], b["name"]: b["population"]},
        "year": a["population_year"],
    }


def population_density(country: str) -> float:
    """People per square kilometre of a country (approximate population over total area).

    Args:
        country: Country name or ISO code.

    Returns:
        Population density in people per km², rounded to 0.1.
    """
    row = _country(country)
    return round(row["population"] / row["area_km2"], 1)


def countries_by_currency(currency: str) -> list[str]:
    """List the bundled table's countries whose currency has the given ISO 4217 code.

    Args:
        currency: Three-letter ISO 4217 currency code, case-insensitive (e.g. "EUR", "usd").

    Returns:
        Names of the countries using that currency, alphabetical (empty when none in the table does).
    """
    code = str(currency).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"currency must be a three-letter ISO 4217 code such as 'EUR', not {currency!r}")
    return sorted(row["name"] for row in _countries() if row["currency"] == code)


def _element(query: str) -> dict:
    key = str(query).strip()
    if not key:
        raise ValueError("element must be a symbol, name or atomic number, not an empty string")
    rows = _elements()
    if key.isdigit():
        number = int(key)
        if not 1 <= number <= len(rows):
            raise ValueError(f"atomic number must be between 1 and {len(rows)}, not {number}")
        return rows[number - 1]
    folded = key.casefold()
    aliases = {"aluminum": "aluminium", "cesium": "caesium", "sulphur": "sulfur"}
    folded = aliases.get(folded, folded)
    for row in rows:
        if folded in (row["symbol"].casefold(), row["name"].casefold()):
            return row
    close = difflib.get_close_matches(key.title(), [row["name"] for row in rows], n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else "; give a symbol ('Fe'), a name ('iron') or an atomic number ('26')"
    raise ValueError(f"unknown element {query!r}{hint}")


def _series(number: int) -> str | None:
    if 57 <= number <= 71:
        return "lanthanide"
    if 89 <= number <= 103:
        return "actinide"
    return None


def element_info(element: str) -> dict:
    """Look up a chemical element by symbol, name or atomic number.

    Args:
        element: Element symbol ("Fe"), English name ("iron"), or atomic number as text ("26").

    Returns:
        number, symbol, name, atomic_mass (standard atomic weight, g/mol), group (None for lanthanides and
        actinides), period and series ("lanthanide", "actinide" or None).
    """
    row = dict(_element(element))
    row["series"] = _series(row["number"])
    return row


def elements_in_group(group: int) -> list[str]:
    """List the symbols of the elements in one group (column) of the periodic table.

    Args:
        group: IUPAC group number, 1 to 18.

    Returns:
        Element symbols in the group, by increasing atomic number.
    """
    if isinstance(group, bool) or not isinstance(group, int) or not 1 <= group <= 18:
        raise ValueError(f"group must be an integer from 1 to 18, not {group!r}")
    return [row["symbol"] for row in _elements() if row["group"] == group]


_FORMULA_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*)|(\()|(\))(\d*)")


def chemical_molar_mass(formula: str) -> float:
    """Molar mass of a chemical formula from standard atomic weights.

    Args:
        formula: A formula with element symbols, counts and parentheses, e.g. "H2O", "C6H12O6", "Ca(OH)2".

    Returns:
        The molar mass in g/mol, rounded to 0.001.
    """
    text = str(formula).strip()
    if not text or len(text) > 200:
        raise ValueError(f"formula must be 1 to 200 characters such as 'H2O', not {formula!r}")
    masses = {row["symbol"]: row["atomic_mass"] for row in _elements()}
    stack: list[float] = [0.0]
    pos = 0
    while pos < len(text):
        match = _FORMULA_TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"cannot read formula {formula!r} at position {pos} ({text[pos]!r}); write it like 'Ca(OH)2'")
        symbol, count, opening, closing, group_count = match.groups()
        if symbol:
            if symbol not in masses:
                raise ValueError(f"unknown element symbol {symbol!r} in formula {formula!r}")
            stack[-1] += masses[symbol] * (int(count) if count else 1)
        elif opening:
            stack.append(0.0)
        else:
            if len(stack) == 1:
                raise ValueError(f"unbalanced ')' in formula {formula!r}")
            inner = stack.pop()
            stack[-1] += inner * (int(group_count) if group_count else 1)
        pos = match.end()
    if len(stack) != 1:
        raise ValueError(f"unbalanced '(' in formula {formula!r}")
    return round(stack[0], 3)
