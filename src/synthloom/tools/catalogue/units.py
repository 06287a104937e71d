"""Unit conversion: length, mass, temperature, volume, area, speed, data size, time, pressure and energy.

Each tool converts a value between two units named in its schema's enum (US customary volumes unless the unit says
imperial; data sizes in decimal SI units (kilobyte = 1000 bytes) and binary IEC units (kibibyte = 1024 bytes); a
year is the Julian year of 365.25 days). Results keep 12 significant digits. Pure functions, no I/O.
"""

import math
from typing import Literal

CATEGORY = "units"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

_LENGTH = {
    "millimeter": 0.001, "centimeter": 0.01, "meter": 1.0, "kilometer": 1000.0, "inch": 0.0254, "foot": 0.3048,
    "yard": 0.9144, "mile": 1609.344, "nautical_mile": 1852.0,
}
_MASS = {
    "milligram": 1e-6, "gram": 0.001, "kilogram": 1.0, "tonne": 1000.0, "ounce": 0.028349523125,
    "pound": 0.45359237, "stone": 6.35029318, "short_ton": 907.18474, "long_ton": 1016.0469088,
}
_VOLUME = {
    "milliliter": 1e-6, "liter": 0.001, "cubic_meter": 1.0, "cubic_centimeter": 1e-6, "teaspoon": 4.92892159375e-6,
    "tablespoon": 1.478676478125e-5, "fluid_ounce": 2.95735295625e-5, "cup": 2.365882365e-4, "pint": 4.73176473e-4,
    "quart": 9.46352946e-4, "gallon": 3.785411784e-3, "imperial_pint": 5.6826125e-4, "imperial_gallon": 4.54609e-3,
}
_AREA = {
    "square_millimeter": 1e-6, "square_centimeter": 1e-4, "square_meter": 1.0, "square_kilometer": 1e6, "hectare": 1e4,
    "square_inch": 6.4516e-4, "square_foot": 0.09290304, "square_yard": 0.83612736, "acre": 4046.8564224,
    "square_mile": 2589988.110336,
}
_SPEED = {
    "meters_per_second": 1.0, "kilometers_per_hour": 1 / 3.6, "miles_per_hour": 0.44704, "knot": 1852 / 3600,
    "feet_per_second": 0.3048,
}
_DATA = {
    "bit": 0.125, "byte": 1.0, "kilobit": 125.0, "megabit": 1.25e5, "gigabit": 1.25e8,
    "kilobyte": 1e3, "megabyte": 1e6, "gigabyte": 1e9, "terabyte": 1e12, "petabyte": 1e15,
    "kibibyte": 1024.0, "mebibyte": 1024.0**2, "gibibyte": 1024.0**3, "tebibyte": 1024.0**4, "pebibyte": 1024.0**5,
}
_TIME = {
    "nanosecond": 1e-9, "microsecond": 1e-6, "millisecond": 1e-3, "second": 1.0, "minute": 60.0, "hour": 3600.0,
    "day": 86400.0, "week": 604800.0, "year": 31557600.0,
}
_PRESSURE = {
    "pascal": 1.0, "kilopascal": 1000.0, "megapascal": 1e6, "bar": 1e5, "millibar": 100.0, "atmosphere": 101325.0,
    "psi": 6894.757293168361, "mmhg": 133.322387415, "inch_of_mercury": 3386.389,
}
_ENERGY = {
    "joule": 1.0, "kilojoule": 1000.0, "calorie": 4.184, "kilocalorie": 4184.0, "watt_hour": 3600.0,
    "kilowatt_hour": 3.6e6, "btu": 1055.05585262, "electronvolt": 1.602176634e-19,
}
# (scale, offset) so that kelvin = value * scale + offset
_TEMPERATURE = {"celsius": (1.0, 273.15), "fahrenheit": (5 / 9, 273.15 - 32 * 5 / 9), "kelvin": (1.0, 0.0), "rankine": (5 / 9, 0.0)}


def _value(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"value must be a number, not {value!r}")
    if not abs(value) <= 1e300:
        raise ValueError(f"value must be a finite number within ±1e300, not {value!r}")
    return float(value)


def _unit(unit: str, table: dict, kind: str, what: str) -> str:
    if not isinstance(unit, str) or unit not in table:
        raise ValueError(f"{what}: unknown {kind} unit {unit!r}; use one of {', '.join(table)}")
    return unit


def _significant(x: float) -> float:
    if not math.isfinite(x):
        raise ValueError("the converted value is too large to represent; use a smaller value")
    return float(f"{x:.12g}")


def _convert(value: float, from_unit: str, to_unit: str, table: dict, kind: str) -> float:
    x = _value(value)
    src, dst = _unit(from_unit, table, kind, "from_unit"), _unit(to_unit, table, kind, "to_unit")
    return _significant(x * table[src] / table[dst])


_LengthUnit = Literal["millimeter", "centimeter", "meter", "kilometer", "inch", "foot", "yard", "mile", "nautical_mile"]
_MassUnit = Literal["milligram", "gram", "kilogram", "tonne", "ounce", "pound", "stone", "short_ton", "long_ton"]
_VolumeUnit = Literal["milliliter", "liter", "cubic_meter", "cubic_centimeter", "teaspoon", "tablespoon", "fluid_ounce", "cup", "pint",
                     "quart", "gallon", "imperial_pint", "imperial_gallon"]
_AreaUnit = Literal["square_millimeter", "square_centimeter", "square_meter", "square_kilometer", "hectare", "square_inch",
                   "square_foot", "square_yard", "acre", "square_mile"]
_SpeedUnit = Literal["meters_per_second", "kilometers_per_hour", "miles_per_hour", "knot", "feet_per_second"]
_DataUnit = Literal["bit", "byte", "kilobit", "megabit", "gigabit", "kilobyte", "megabyte", "gigabyte", "terabyte", "petabyte",
                   "kibibyte", "mebibyte", "gibibyte", "tebibyte", "pebibyte"]
_TimeUnit = Literal["nanosecond", "microsecond", "millisecond", "second", "minute", "hour", "day", "week", "year"]
_PressureUnit = Literal["pascal", "kilopascal", "megapascal", "bar", "millibar", "atmosphere", "psi", "mmhg", "inch_of_mercury"]
_EnergyUnit = Literal["joule", "kilojoule", "calorie", "kilocalorie", "watt_hour", "kilowatt_hour", "btu", "electronvolt"]
_TemperatureUnit = Literal["celsius", "fahrenheit", "kelvin", "rankine"]


def convert_length(value: float, from_unit: _LengthUnit, to_unit: _LengthUnit) -> float:
    """Convert a length or distance between metric and imperial units.

    Args:
        value: the length to convert.
        from_unit: the unit value is in.
        to_unit: the unit to convert to.

    Returns:
        The length in to_unit (12 significant digits).
    """
    return _convert(value, from_unit, to_unit, _LENGTH, "length")


def convert_mass(value: float, from_unit: _MassUnit, to_unit: _MassUnit) -> float:
    """Convert a mass (weight) between metric and imperial units (avoirdupois ounce and pound).

    Args:
        value: the mass to convert.
        from_unit: the unit value is in.
        to_unit: the unit to convert to.

    Returns:
        The mass in to_unit (12 significant digits).
    """
    return _convert(value, from_unit, to_unit, _MASS, "mass")


def convert_temperature(value: float, from_unit: _TemperatureUnit, to_unit: _TemperatureUnit) -> float:
    """Convert a temperature between Celsius, Fahrenheit, Kelvin and Rankine (refuses values below absolute zero).

    Args:
        value: the temperature to convert.
        from_unit: the scale value is on.
        to_unit: the scale to convert to.

    Returns:
        The temperature on to_unit's scale (12 significant digits).
    """
    x = _value(value)
    src = _unit(from_unit, _TEMPERATURE, "temperature", "from_unit")
    dst = _unit(to_unit, _TEMPERATURE, "temperature", "to_unit")
    scale, offset = _TEMPERATURE[src]
    kelvin = x * scale + offset
    if kelvin < -1e-9:
        raise ValueError(f"{value} {from_unit} is below absolute zero; a temperature cannot be lower than 0 kelvin")
    to_scale, to_offset = _TEMPERATURE[dst]
    return _significant((max(kelvin, 0.0) - to_offset) / to_scale)


def convert_volume(value: float, from_unit: _VolumeUnit, to_unit: _VolumeUnit) -> float:
    """Convert a volume between metric, US customary (cup, pint, quart, gallon, ...) and imperial units.

    Args:
        value: the volume to convert.
        from_unit: the unit value is in (US customary unless the name says imperial).
        to_unit: the unit to convert to.

    Returns:
        The volume in to_unit (12 significant digits).
    """
    return _convert(value, from_unit, to_unit, _VOLUME, "volume")


def convert_area(value: float, from_unit: _AreaUnit, to_unit: _AreaUnit) -> float:
    """Convert an area between metric and imperial units (hectares, acres, square feet, ...).

    Args:
        value: the area to convert.
        from_unit: the unit value is in.
        to_unit: the unit to convert to.

    Returns:
        The area in to_unit (12 significant digits).
    """
    return _convert(value, from_unit, to_unit, _AREA, "area")


def convert_speed(value: float, from_unit: _SpeedUnit, to_unit: _SpeedUnit) -> float:
    """Convert a speed between m/s, km/h, mph, knots and ft/s.

    Args:
        value: the speed to convert.
        from_unit: the unit value is in.
        to_unit: the unit to convert to.

    Returns:
        The speed in to_unit (12 significant digits).
    """
    return _convert(value, from_unit, to_unit, _SPEED, "speed")


def convert_data_size(value: float, from_unit: _DataUnit, to_unit: _DataUnit) -> float:
    """Convert an amount of digital data between bits, bytes, SI multiples (kilobyte = 1000 bytes) and IEC binary
    multiples (kibibyte = 1024 bytes).

    Args:
        value: the amount of data to convert.
        from_unit: the unit value is in.
        to_unit: the unit to convert to.

    Returns:
        The amount in to_unit (12 significant digits).
    """
    return _convert(value, from_unit, to_unit, _DATA, "data size")


def convert_time_units(value: float, from_unit: _TimeUnit, to_unit: _TimeUnit) -> float:
    """Convert a span of time between units from nanoseconds to years (a year is 365.25 days).

    Args:
        value: the time span to convert.
        from_unit: the unit value is in.
        to_unit: the unit to convert to.

    Returns:
        The time span in to_unit (12 significant digits).
    """
    return _convert(value, from_unit, to_unit, _TIME, "time")


def convert_pressure(value: float, from_unit: _PressureUnit, to_unit: _PressureUnit) -> float:
    """Convert a pressure between pascals, bar, atmospheres, psi and millimetres or inches of mercury.

    Args:
        value: the pressure to convert.
        from_unit: the unit value is in.
        to_unit: the unit to convert to.

    Returns:
        The pressure in to_unit (12 significant digits).
    """
    return _convert(value, from_unit, to_unit, _PRESSURE, "pressure")


def convert_energy(value: float, from_unit: _EnergyUnit, to_unit: _EnergyUnit) -> float:
    """Convert an amount of energy between joules, calories (thermochemical), watt-hours, BTU and electronvolts.

    Args:
        value: the energy to convert.
        from_unit: the unit value is in.
        to_unit: the unit to convert to.

    Returns:
        The energy in to_unit (12 significant digits).
    """
    return _convert(value, from_unit, to_unit, _ENERGY, "energy")
