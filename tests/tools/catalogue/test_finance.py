"""The finance catalogue module: every tool on hand-checked values (textbook and spreadsheet figures) and on bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from synthloom.tools.catalogue import finance as fi


def test_module_follows_the_catalogue_convention(catalogue_convention) -> None:
    tools = catalogue_convention(fi, 7)
    convert = next(t for t in tools if t.name == "currency_convert")
    assert "FIXED" in convert.description and "2024-01-02" in convert.description and "not live" in convert.description


def test_loan_payment_matches_the_textbook_mortgage() -> None:
    assert fi.loan_payment(200_000, 6, 30) == {"payment": 1199.10, "number_of_payments": 360, "total_paid": 431676.38,
                                               "total_interest": 231676.38}
    assert fi.loan_payment(12_000, 0, 1)["payment"] == 1000
    assert fi.loan_payment(1000, 10, 2, payments_per_year=1)["payment"] == 576.19
    assert fi.loan_payment(1000, 6, 2.5)["number_of_payments"] == 30
    with pytest.raises(ValueError, match="whole number of payments, not 3.6"):
        fi.loan_payment(1000, 6, 0.3)
    with pytest.raises(ValueError, match="principal must be greater than zero"):
        fi.loan_payment(0, 6, 30)
    with pytest.raises(ValueError, match="percentage above -100"):
        fi.loan_payment(1000, -100, 30)
    with pytest.raises(ValueError, match="payment is too large"):
        fi.loan_payment(1000, -99.99, 10_000, payments_per_year=1)
    with pytest.raises(ValueError, match="payments_per_year must be a whole number from 1 to 365"):
        fi.loan_payment(1000, 5, 1, payments_per_year=0)


def test_amortization_schedule_pays_the_loan_off_exactly() -> None:
    rows = fi.amortization_schedule(1000, 12, 1)
    assert len(rows) == 12 and rows[0] == {"period": 1, "payment": 88.85, "interest": 10.0, "principal": 78.85, "balance": 921.15}
    assert rows[-1]["balance"] == 0 and round(sum(r["principal"] for r in rows), 2) == 1000
    assert all(r["payment"] == 88.85 for r in rows[:-1]) and abs(rows[-1]["payment"] - 88.85) <= 0.05
    mortgage = fi.amortization_schedule(200_000, 6, 30)
    assert mortgage[0]["interest"] == 1000.0 and mortgage[0]["principal"] == 199.10 and mortgage[-1]["balance"] == 0
    longest = fi.amortization_schedule(987_654.32, 7.25, 40)
    assert len(longest) == 480 and len(json.dumps(longest)) < 64 * 1024  # fits the executor's limit on one value
    with pytest.raises(ValueError, match="600 rows; at most 480"):
        fi.amortization_schedule(1000, 5, 50)


def test_compound_and_simple_interest() -> None:
    assert fi.compound_interest(1000, 5, 10, "annually") == {"final_amount": 1628.89, "interest_earned": 628.89}
    assert fi.compound_interest(1000, 5, 10)["final_amount"] == 1647.01  # monthly by default
    assert fi.compound_interest(1000, 5, 10, "quarterly")["final_amount"] == 1643.62
    assert fi.compound_interest(1000, 5, 10, "continuously")["final_amount"] == 1648.72
    assert fi.simple_interest(1000, 5, 3) == {"interest": 150.0, "final_amount": 1150.0}
    with pytest.raises(ValueError, match="unknown compounding 'hourly'"):
        fi.compound_interest(1000, 5, 1, "hourly")
    with pytest.raises(ValueError, match="exceeds 1e18"):
        fi.compound_interest(1e6, 1000, 1000, "annually")
    with pytest.raises(ValueError, match="exceeds 1e18"):
        fi.compound_interest(1e6, 1000, 1000, "continuously")
    assert fi.compound_interest(1000, -10, 2, "annually")["final_amount"] == 810.0


def test_net_present_value_and_internal_rate_of_return() -> None:
    assert fi.net_present_value(10, [-1000, 300, 400, 500]) == -21.036814
    assert fi.net_present_value(0, [-100, 60, 60]) == 20
    assert fi.internal_rate_of_return([-100, 110]) == 10.0
    assert fi.internal_rate_of_return([-100, 39, 59, 55, 20]) == pytest.approx(28.0948, abs=1e-4)
    irr = fi.internal_rate_of_return([-1000, 300, 400, 500])
    assert irr == pytest.approx(8.8963, abs=1e-4) and abs(fi.net_present_value(irr, [-1000, 300, 400, 500])) < 1e-3
    assert fi.internal_rate_of_return([-100, 230, -132]) == pytest.approx(10.0)  # roots 10% and 20%: the one nearer 10%
    assert fi.internal_rate_of_return([-100, 50]) == pytest.approx(-50.0)
    with pytest.raises(ValueError, match="at least one negative and one positive"):
        fi.internal_rate_of_return([100, 200])
    with pytest.raises(ValueError, match="2 to 200 amounts"):
        fi.net_present_value(5, [100])
    with pytest.raises(ValueError, match="NPV is too large"):
        fi.net_present_value(-99.999, [1e15] * 200)


def test_roi_cagr_and_break_even() -> None:
    assert fi.return_on_investment(1000, 1250) == {"net_gain": 250, "roi_percent": 25}
    assert fi.return_on_investment(1000, 800)["roi_percent"] == -20
    assert fi.compound_annual_growth_rate(100, 200, 5) == 14.869835
    assert fi.compound_annual_growth_rate(100, 100, 3) == 0
    assert fi.break_even_point(10_000, 50, 30) == {"units": 500, "units_to_sell": 500, "revenue": 25000, "contribution_margin": 20}
    uneven = fi.break_even_point(1000, 7, 4)
    assert uneven["units"] == 333.333333 and uneven["units_to_sell"] == 334 and uneven["revenue"] == 2333.33
    with pytest.raises(ValueError, match="must exceed variable_cost_per_unit"):
        fi.break_even_point(1000, 4, 4)
    with pytest.raises(ValueError, match="initial_investment must be greater than zero"):
        fi.return_on_investment(0, 10)
    assert fi.compound_annual_growth_rate(100, 0, 3) == -100
    with pytest.raises(ValueError, match="years must be greater than zero"):
        fi.compound_annual_growth_rate(100, 200, 0)
    with pytest.raises(ValueError, match="growth rate is too large"):
        fi.compound_annual_growth_rate(1e-300, 1e15, 0.001)


def test_depreciation_schedules() -> None:
    straight = fi.depreciation_schedule(10_000, 1000, 5)
    assert [r["depreciation"] for r in straight] == [1800] * 5 and straight[-1]["book_value"] == 1000
    double = fi.depreciation_schedule(10_000, 1000, 5, "declining_balance")  # spreadsheet DDB(10000, 1000, 5, year)
    assert [r["depreciation"] for r in double] == [4000, 2400, 1440, 864, 296] and double[-1]["book_value"] == 1000
    slower = fi.depreciation_schedule(10_000, 1000, 5, "declining_balance", declining_factor=1.5)
    assert slower[0]["depreciation"] == 3000 and min(r["book_value"] for r in slower) >= 1000
    digits = fi.depreciation_schedule(10_000, 1000, 5, "sum_of_years_digits")
    assert [r["depreciation"] for r in digits] == [3000, 2400, 1800, 1200, 600] and digits[-1]["accumulated"] == 9000
    with pytest.raises(ValueError, match="must not exceed cost"):
        fi.depreciation_schedule(1000, 2000, 5)
    with pytest.raises(ValueError, match="useful_life_years must be a whole number from 1 to 100"):
        fi.depreciation_schedule(1000, 0, 0)
    with pytest.raises(ValueError, match="unknown method 'units_of_production'"):
        fi.depreciation_schedule(1000, 0, 5, "units_of_production")


def test_currency_convert_uses_the_bundled_fixed_rates() -> None:
    usd_eur = fi.currency_convert(100, "USD", "EUR")
    assert usd_eur == {"amount": 100, "from_currency": "USD", "to_currency": "EUR", "converted": 91.27, "rate": 0.91274188,
                       "rates_date": "2024-01-02"}
    assert fi.currency_convert(1, "eur", " usd ")["converted"] == 1.1
    assert fi.currency_convert(1, "EUR", "USD")["rate"] == 1.0956
    assert fi.currency_convert(250, "GBP", "GBP") == {"amount": 250, "from_currency": "GBP", "to_currency": "GBP", "converted": 250,
                                                      "rate": 1, "rates_date": "2024-01-02"}
    there = fi.currency_convert(1000, "JPY", "CHF")["converted"]
    assert fi.currency_convert(there, "CHF", "JPY")["converted"] == pytest.approx(1000, abs=0.5)
    with pytest.raises(ValueError, match=r"to_currency: unknown currency 'XYZ'; use an ISO code from AUD, BGN, BRL"):
        fi.currency_convert(1, "USD", "XYZ")
    with pytest.raises(ValueError, match="from_currency: unknown currency 5"):
        fi.currency_convert(1, 5, "USD")


def test_the_exchange_rate_table_is_one_dated_snapshot() -> None:
    path = Path(fi.__file__).parent / "data" / "exchange_rates.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert len(rows) >= 25 and {r["date"] for r in rows} == {"2024-01-02"}
    codes = [r["currency"] for r in rows]
    assert len(codes) == len(set(codes)) and all(len(c) == 3 and c.isupper() for c in codes)
    assert all(float(r["units_per_eur"]) > 0 for r in rows) and next(r for r in rows if r["currency"] == "EUR")["units_per_eur"] == "1"
