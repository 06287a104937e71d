"""Geography and lookups: the bundled country and element tables and the tools over them."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from synthloom.tools.catalogue import geography as geo
from synthloom.tools.catalogue_loader import load_catalogue
from synthloom.tools.executor import Invocation, ToolExecutor

DATA = Path(geo.__file__).parent / "data"


def test_module_follows_the_catalogue_convention(catalogue_convention):
    catalogue_convention(geo, min_tools=6)


def test_country_table_is_complete_and_consistent():
    rows = list(csv.DictReader((DATA / "countries.csv").open(encoding="utf-8")))
    assert len(rows) >= 60
    for key in ("name", "iso2", "iso3"):
        assert len({r[key] for r in rows}) == len(rows), f"duplicate {key}"
    assert {r["continent"] for r in rows} == {"Africa", "Asia", "Europe", "North America", "South America", "Oceania"}
    for r in rows:
        assert r["iso2"].isalpha() and r["iso2"].isupper() and len(r["iso2"]) == 2
        assert r["iso3"].isalpha() and r["iso3"].isupper() and len(r["iso3"]) == 3
        assert -90 <= float(r["capital_lat"]) <= 90 and -180 <= float(r["capital_lon"]) <= 180
        assert int(r["population"]) > 100_000 and int(r["area_km2"]) > 0 and r["population_year"] == "2023"
        assert len(r["currency"]) == 3 and r["calling_code"].startswith("+")


def test_element_table_has_all_118_elements():
    rows = list(csv.DictReader((DATA / "elements.csv").open(encoding="utf-8")))
    assert [int(r["number"]) for r in rows] == list(range(1, 119))
    assert len({r["symbol"] for r in rows}) == 118
    masses = [float(r["atomic_mass"]) for r in rows]
    assert masses[0] == 1.008 and masses[5] == 12.011 and masses[91] == 238.03
    periods = [int(r["period"]) for r in rows]
    assert periods.count(1) == 2 and periods.count(2) == 8 and periods.count(6) == 32 and periods.count(7) == 32


def test_country_info_by_name_or_code():
    japan = geo.country_info("Japan")
    assert japan["iso2"] == "JP" and japan["iso3"] == "JPN" and japan["capital"] == "Tokyo" and japan["currency"] == "JPY"
    assert geo.country_info("jp") == japan == geo.country_info(" JPN ")
    assert geo.country_info("DE")["name"] == "Germany"
    japan["name"] = "changed"  # callers get a copy, not the table row
    assert geo.country_info("JP")["name"] == "Japan"


def test_unknown_country_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'France'"):
        geo.country_info("Frnace")
    with pytest.raises(ValueError, match="ISO2/ISO3"):
        geo.capital_of("Atlantis")
    with pytest.raises(ValueError, match="empty"):
        geo.capital_of("  ")


@pytest.mark.parametrize(("country", "capital"), [("Australia", "Canberra"), ("BR", "Brasília"), ("us", "Washington, D.C."),
                                                  ("Canada", "Ottawa"), ("Turkey", "Ankara"), ("NG", "Abuja"), ("CHE", "Bern")])
def test_capital_of(country, capital):
    assert geo.capital_of(country) == capital


def test_countries_in_continent():
    assert geo.countries_in_continent("Oceania", "population") == ["Australia", "Papua New Guinea", "New Zealand", "Fiji"]
    names = geo.countries_in_continent("South America")
    assert names == sorted(names) and "Brazil" in names and "Mexico" not in names
    assert geo.countries_in_continent("Europe", sort_by="area")[0] == "Russia"
    assert geo.countries_in_continent("Asia", sort_by="population")[:2] == ["India", "China"]
    with pytest.raises(ValueError, match="unknown continent"):
        geo.countries_in_continent("Antarctica")
    with pytest.raises(ValueError, match="sort_by"):
        geo.countries_in_continent("Asia", sort_by="gdp")


def test_distance_between_capitals():
    paris_london = geo.distance_between_capitals("France", "United Kingdom")
    assert 340 <= paris_london <= 347  # about 344 km
    assert geo.distance_between_capitals("GB", "FR") == paris_london
    assert geo.distance_between_capitals("France", "France") == 0.0
    km = geo.distance_between_capitals("US", "JP")
    assert 10_800 <= km <= 11_000  # Washington-Tokyo, about 10,900 km
    assert geo.distance_between_capitals("US", "JP", unit="mi") == pytest.approx(km / 1.609344, abs=0.1)
    antipodal = geo.distance_between_capitals("Spain", "New Zealand")  # Madrid-Wellington, nearly antipodal
    assert 19_500 < antipodal < math.pi * 6371.0088 + 1
    with pytest.raises(ValueError, match="unit"):
        geo.distance_between_capitals("US", "JP", unit="nmi")


def test_compare_population_and_density():
    result = geo.compare_population("China", "India")
    assert result["larger"] == "India"
    assert result["difference"] == 1_428_600_000 - 1_410_700_000
    assert result["ratio"] == 1.01 and result["year"] == 2023
    assert result["populations"] == {"China": 1_410_700_000, "India": 1_428_600_000}
    assert geo.compare_population("IS", "DE")["larger"] == "Germany"
    assert geo.compare_population("IS", "DE")["ratio"] == round(84_500_000 / 390_000, 2)
    assert geo.population_density("Bangladesh") == round(171_500_000 / 147_570, 1)
    assert geo.population_density("Mongolia") < 3 < geo.population_density("Singapore") / 1000


def test_countries_by_currency():
    euro = geo.countries_by_currency("eur")
    assert "France" in euro and "Germany" in euro and "Switzerland" not in euro and euro == sorted(euro)
    assert geo.countries_by_currency("USD") == ["Ecuador", "United States"]
    assert geo.countries_by_currency("XYZ") == []
    with pytest.raises(ValueError, match="three-letter"):
        geo.countries_by_currency("EURO")


def test_element_info():
    iron = geo.element_info("Fe")
    assert iron == {"number": 26, "symbol": "Fe", "name": "Iron", "atomic_mass": 55.845, "group": 8, "period": 4, "series": None}
    assert geo.element_info("iron") == iron == geo.element_info("26")
    assert geo.element_info("aluminum")["symbol"] == "Al" and geo.element_info("cesium")["number"] == 55
    uranium = geo.element_info("U")
    assert (uranium["group"], uranium["series"], uranium["period"]) == (None, "actinide", 7)
    assert geo.element_info("Gd")["series"] == "lanthanide"
    assert geo.element_info("118")["symbol"] == "Og"
    for bad, message in (("0", "between 1 and 118"), ("119", "between 1 and 118"), ("Unobtainium", "unknown element"),
                         ("", "empty"), ("Irn", "did you mean 'Iron'")):
        with pytest.raises(ValueError, match=message):
            geo.element_info(bad)


def test_elements_in_group():
    assert geo.elements_in_group(1) == ["H", "Li", "Na", "K", "Rb", "Cs", "Fr"]
    assert geo.elements_in_group(18) == ["He", "Ne", "Ar", "Kr", "Xe", "Rn", "Og"]
    assert geo.elements_in_group(11) == ["Cu", "Ag", "Au", "Rg"]
    for bad in (0, 19, True):
        with pytest.raises(ValueError, match="1 to 18"):
            geo.elements_in_group(bad)


@pytest.mark.parametrize(("formula", "mass"), [("H2O", 18.015), ("CO2", 44.009), ("NaCl", 58.44), ("C6H12O6", 180.156),
                                               ("Ca(OH)2", 74.092), ("Al2(SO4)3", 342.13), ("He", 4.003)])
def test_chemical_molar_mass(formula, mass):
    assert geo.chemical_molar_mass(formula) == pytest.approx(mass, abs=0.005)


@pytest.mark.parametrize(("formula", "message"), [("Xx2", "unknown element symbol 'Xx'"), ("H2O)", "unbalanced '\\)'"),
                                                  ("(H2O", "unbalanced '\\('"), ("", "1 to 200"), ("h2o", "position 0"),
                                                  ("H2 O", "position 2")])
def test_chemical_molar_mass_refuses_bad_formulas(formula, message):
    with pytest.raises(ValueError, match=message):
        geo.chemical_molar_mass(formula)


@pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")
def test_tools_run_in_the_sandbox_reading_the_bundled_tables():
    catalogue = load_catalogue()
    calls = [Invocation("1", "capital_of", {"country": "KE"}), Invocation("2", "element_info", {"element": "gold"}),
             Invocation("3", "distance_between_capitals", {"country_a": "FR", "country_b": "GB"}),
             Invocation("4", "country_info", {"country": "Atlantis"})]
    with ToolExecutor(timeout=10.0, workers=1) as executor:
        results = executor.run([catalogue.get(c.name) for c in calls], calls)
    assert [r.status for r in results] == ["ok", "ok", "ok", "error"]
    assert results[0].value == "Nairobi" and results[1].value["number"] == 79
    assert results[2].value == geo.distance_between_capitals("FR", "GB")
    assert results[3].error.startswith("ValueError: unknown country 'Atlantis'")
