"""The unit-conversion catalogue module: every tool on hand-checked values and on bad input."""

from __future__ import annotations

import pytest

from synthloom.tools.catalogue import units as un

TABLES = {
    "convert_length": un._LENGTH, "convert_mass": un._MASS, "convert_temperature": un._TEMPERATURE, "convert_volume": un._VOLUME,
    "convert_area": un._AREA, "convert_speed": un._SPEED, "convert_data_size": un._DATA, "convert_time_units": un._TIME,
    "convert_pressure": un._PRESSURE, "convert_energy": un._ENERGY,
}


def test_module_follows_the_catalogue_convention(catalogue_convention) -> None:
    tools = catalogue_convention(un, 6)
    assert {t.name for t in tools} == set(TABLES)
    for tool in tools:  # the schema's enum offers exactly the units the conversion table knows
        props = tool.parameters["properties"]
        assert props["from_unit"]["enum"] == props["to_unit"]["enum"] == list(TABLES[tool.name])
        assert tool.parameters["required"] == ["value", "from_unit", "to_unit"]


@pytest.mark.parametrize(("tool", "value", "from_unit", "to_unit", "expected"), [
    ("convert_length", 1, "mile", "kilometer", 1.609344),
    ("convert_length", 1, "inch", "centimeter", 2.54),
    ("convert_length", 5280, "foot", "mile", 1),
    ("convert_length", 1, "nautical_mile", "meter", 1852),
    ("convert_mass", 1, "kilogram", "pound", 2.20462262185),
    ("convert_mass", 1, "stone", "pound", 14),
    ("convert_mass", 1, "pound", "ounce", 16),
    ("convert_mass", 1, "short_ton", "pound", 2000),
    ("convert_mass", 1, "long_ton", "pound", 2240),
    ("convert_temperature", 100, "celsius", "fahrenheit", 212),
    ("convert_temperature", -40, "celsius", "fahrenheit", -40),
    ("convert_temperature", 0, "kelvin", "celsius", -273.15),
    ("convert_temperature", 32, "fahrenheit", "kelvin", 273.15),
    ("convert_temperature", 491.67, "rankine", "celsius", 0),
    ("convert_volume", 1, "gallon", "liter", 3.785411784),
    ("convert_volume", 1, "gallon", "fluid_ounce", 128),
    ("convert_volume", 1, "cup", "tablespoon", 16),
    ("convert_volume", 1, "tablespoon", "teaspoon", 3),
    ("convert_volume", 2, "pint", "quart", 1),
    ("convert_volume", 1, "imperial_gallon", "imperial_pint", 8),
    ("convert_volume", 1, "cubic_meter", "liter", 1000),
    ("convert_area", 1, "acre", "square_foot", 43560),
    ("convert_area", 1, "square_mile", "acre", 640),
    ("convert_area", 1, "hectare", "acre", 2.47105381467),
    ("convert_speed", 100, "kilometers_per_hour", "meters_per_second", 27.7777777778),
    ("convert_speed", 1, "knot", "kilometers_per_hour", 1.852),
    ("convert_speed", 60, "miles_per_hour", "feet_per_second", 88),
    ("convert_data_size", 1, "gibibyte", "megabyte", 1073.741824),
    ("convert_data_size", 1, "byte", "bit", 8),
    ("convert_data_size", 1, "gigabit", "megabyte", 125),
    ("convert_data_size", 1, "pebibyte", "tebibyte", 1024),
    ("convert_time_units", 1, "week", "hour", 168),
    ("convert_time_units", 1, "year", "day", 365.25),
    ("convert_time_units", 1, "millisecond", "nanosecond", 1e6),
    ("convert_pressure", 1, "atmosphere", "kilopascal", 101.325),
    ("convert_pressure", 1, "atmosphere", "psi", 14.6959487755),
    ("convert_pressure", 1, "bar", "kilopascal", 100),
    ("convert_pressure", 1, "atmosphere", "inch_of_mercury", 29.9212524),
    ("convert_energy", 1, "kilowatt_hour", "kilojoule", 3600),
    ("convert_energy", 1, "kilocalorie", "kilojoule", 4.184),
    ("convert_energy", 1, "btu", "joule", 1055.05585262),
    ("convert_energy", 1, "electronvolt", "joule", 1.602176634e-19),
])
def test_known_conversions(tool: str, value: float, from_unit: str, to_unit: str, expected: float) -> None:
    assert getattr(un, tool)(value, from_unit, to_unit) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_results_are_rounded_to_twelve_significant_digits() -> None:
    assert un.convert_length(3, "foot", "yard") == 1.0  # not 0.9999999999999999
    assert un.convert_temperature(37, "celsius", "fahrenheit") == 98.6


def test_round_trips_return_the_value() -> None:
    for tool, table in TABLES.items():
        first, last = list(table)[0], list(table)[-1]
        there = getattr(un, tool)(123.456, first, last)
        assert getattr(un, tool)(there, last, first) == pytest.approx(123.456, rel=1e-10)


def test_bad_units_and_values() -> None:
    with pytest.raises(ValueError, match="from_unit: unknown length unit 'parsec'; use one of millimeter, "):
        un.convert_length(1, "parsec", "meter")
    with pytest.raises(ValueError, match="to_unit: unknown mass unit 'meter'"):
        un.convert_mass(1, "gram", "meter")
    with pytest.raises(ValueError, match="unknown data size unit"):
        un.convert_data_size(1, ["byte"], "bit")
    with pytest.raises(ValueError, match="below absolute zero"):
        un.convert_temperature(-300, "celsius", "kelvin")
    with pytest.raises(ValueError, match="value must be a number"):
        un.convert_speed("fast", "knot", "miles_per_hour")
    with pytest.raises(ValueError, match="finite number"):
        un.convert_time_units(float("inf"), "day", "hour")
    with pytest.raises(ValueError, match="too large"):
        un.convert_energy(1e300, "kilowatt_hour", "electronvolt")
