"""Finance formulas: simple and compound interest, loan payments and amortization, NPV and IRR, ROI, CAGR,
break-even, depreciation, and currency conversion over a bundled table of fixed exchange rates.

Rates are given and returned in percent (5 means 5%). Money amounts in interest, loan and depreciation results are
rounded to cents; ratios to 6 decimals. Currency conversion uses ``data/exchange_rates.csv``: a fixed, date-stamped
snapshot of euro reference rates (not live market rates), so results never change. Pure functions otherwise.
"""

import csv
import math
import os
from typing import Literal

CATEGORY = "finance"
#: calls share nothing (no files, no state kept): the executor may run several rows\' calls in one jail
STATELESS = True

_MAX_PERIODS = 10_000
_MAX_SCHEDULE_ROWS = 480
_MAX_FLOWS = 200
_RATES: dict[str, tuple[str, float, str]] = {}  # code -> (name, units per euro, date)
_COMPOUNDING = {"annually": 1, "semiannually": 2, "quarterly": 4, "monthly": 12, "weekly": 52, "daily": 365}


def _money(value: float, what: str, positive: bool = False, allow_negative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not abs(value) <= 1e15:
        raise ValueError(f"{what} must be a finite number within ±1e15, not {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{what} must be greater than zero, not {value}")
    if not positive and not allow_negative and value < 0:
        raise ValueError(f"{what} must not be negative, not {value}")
    return float(value)


def _rate(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -100 < value <= 1000:
        raise ValueError(f"{what} must be a percentage above -100 and at most 1000 (e.g. 5 for 5%), not {value!r}")
    return value / 100


def _whole(value: int, what: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value


def _periods(years: float, payments_per_year: int) -> int:
    per_year = _whole(payments_per_year, "payments_per_year", 1, 365)
    y = _money(years, "years", positive=True)
    n = y * per_year
    if abs(n - round(n)) > 1e-9:
        raise ValueError(f"years x payments_per_year must be a whole number of payments, not {n:g}")
    if round(n) > _MAX_PERIODS:
        raise ValueError(f"the loan has {round(n)} payments; at most {_MAX_PERIODS} are allowed")
    return round(n)


def _cents(x: float) -> float:
    return round(x + 0.0, 2)


def _payment(principal: float, rate: float, n: int) -> float:
    if rate == 0:
        return principal / n
    try:
        payment = principal * rate / (1 - (1 + rate) ** -n)
    except OverflowError:
        payment = math.inf
    if not math.isfinite(payment) or abs(payment) > 1e18:
        raise ValueError("the payment is too large to represent; use a rate closer to zero or fewer payments")
    return payment


def compound_interest(principal: float, annual_rate_percent: float, years: float,
                      compounding: Literal["annually", "semiannually", "quarterly", "monthly", "weekly", "daily",
                                           "continuously"] = "monthly") -> dict:
    """The value of a deposit after compound interest, with no further deposits or withdrawals.

    Args:
        principal: the amount deposited.
        annual_rate_percent: the nominal annual interest rate in percent, e.g. 5 for 5%.
        years: how long the money grows, in years (may be fractional; at most 1000).
        compounding: how often interest is added: annually, semiannually, quarterly, monthly (default), weekly, daily or continuously.

    Returns:
        An object {"final_amount", "interest_earned"} in cents.
    """
    p, r = _money(principal, "principal"), _rate(annual_rate_percent, "annual_rate_percent")
    t = _money(years, "years")
    if t > 1000:
        raise ValueError(f"years must be at most 1000, not {t:g}")
    if compounding == "continuously":
        log_factor = r * t
    elif compounding in _COMPOUNDING:
        m = _COMPOUNDING[compounding]
        if r / m <= -1:
            raise ValueError(f"annual_rate_percent must be above -{100 * m}% for {compounding} compounding")
        log_factor = m * t * math.log1p(r / m)
    else:
        raise ValueError(f"unknown compounding {compounding!r}; use one of {', '.join([*_COMPOUNDING, 'continuously'])}")
    if p > 0 and math.log(p) + log_factor > math.log(1e18):
        raise ValueError("the final amount exceeds 1e18; use a lower rate or fewer years")
    final = p * math.exp(log_factor)
    return {"final_amount": _cents(final), "interest_earned": _cents(final - p)}


def simple_interest(principal: float, annual_rate_percent: float, years: float) -> dict:
    """Simple (non-compounding) interest on a principal: principal x rate x years.

    Args:
        principal: the amount lent or deposited.
        annual_rate_percent: the annual interest rate in percent, e.g. 5 for 5%.
        years: the time in years (may be fractional).

    Returns:
        An object {"interest", "final_amount"} in cents.
    """
    p, r, t = _money(principal, "principal"), _rate(annual_rate_percent, "annual_rate_percent"), _money(years, "years")
    interest = p * r * t
    return {"interest": _cents(interest), "final_amount": _cents(p + interest)}


def loan_payment(principal: float, annual_rate_percent: float, years: float, payments_per_year: int = 12) -> dict:
    """The fixed periodic payment that repays an amortizing loan (e.g. a mortgage), and what the loan costs in total.

    Args:
        principal: the amount borrowed.
        annual_rate_percent: the nominal annual interest rate in percent (compounded once per payment period).
        years: the term of the loan in years.
        payments_per_year: payments per year, 12 (monthly) by default.

    Returns:
        An object {"payment", "number_of_payments", "total_paid", "total_interest"} (money in cents).
    """
    p = _money(principal, "principal", positive=True)
    r = _rate(annual_rate_percent, "annual_rate_percent")
    n = _periods(years, payments_per_year)
    payment = _payment(p, r / payments_per_year, n)
    return {"payment": _cents(payment), "number_of_payments": n, "total_paid": _cents(payment * n),
            "total_interest": _cents(payment * n - p)}


def amortization_schedule(principal: float, annual_rate_percent: float, years: float, payments_per_year: int = 12) -> list[dict]:
    """The payment-by-payment schedule of an amortizing loan: how each payment splits into interest and principal.

    Args:
        principal: the amount borrowed.
        annual_rate_percent: the nominal annual interest rate in percent (compounded once per payment period).
        years: the term of the loan in years (at most 480 payments in all).
        payments_per_year: payments per year, 12 (monthly) by default.

    Returns:
        One object per payment {"period", "payment", "interest", "principal", "balance"} in cents; the last payment
        absorbs the rounding so the balance ends at exactly 0.
    """
    p = _money(principal, "principal", positive=True)
    n = _periods(years, payments_per_year)
    r = _rate(annual_rate_percent, "annual_rate_percent") / payments_per_year
    if n > _MAX_SCHEDULE_ROWS:
        raise ValueError(f"the schedule would have {n} rows; at most {_MAX_SCHEDULE_ROWS} are allowed (use loan_payment for totals)")
    payment = _cents(_payment(p, r, n))
    balance, rows = _cents(p), []
    for period in range(1, n + 1):
        interest = _cents(balance * r)
        paid = payment if period < n else _cents(balance + interest)
        principal_part = _cents(min(paid - interest, balance))
        balance = _cents(balance - principal_part)
        rows.append({"period": period, "payment": paid, "interest": interest, "principal": principal_part, "balance": balance})
    return rows


def _flows(cash_flows: list[float]) -> list[float]:
    if not isinstance(cash_flows, (list, tuple)) or len(cash_flows) < 2 or len(cash_flows) > _MAX_FLOWS:
        raise ValueError(f"cash_flows must be a list of 2 to {_MAX_FLOWS} amounts (the first at time 0)")
    return [_money(c, "cash_flows", allow_negative=True) for c in cash_flows]


def _npv(rate: float, flows: list[float]) -> float:
    v, total = 1 / (1 + rate), 0.0
    for cf in reversed(flows):  # Horner: cf0 + v*(cf1 + v*(cf2 + ...))
        total = total * v + cf
    return total


def net_present_value(discount_rate_percent: float, cash_flows: list[float]) -> float:
    """The net present value of a series of cash flows one period apart; the first flow is at time 0 and is not
    discounted (unlike spreadsheet NPV(), which discounts the first value too).

    Args:
        discount_rate_percent: the discount rate per period in percent, e.g. 8 for 8%.
        cash_flows: the flows in order, negative for money paid out (2 to 200 values).

    Returns:
        The NPV (6 decimals).
    """
    npv = _npv(_rate(discount_rate_percent, "discount_rate_percent"), _flows(cash_flows))
    if not math.isfinite(npv):
        raise ValueError("the NPV is too large to represent; use a discount rate further from -100% or fewer cash flows")
    return round(npv, 6)


_IRR_GRID = (-0.99, -0.95, -0.9, -0.8, -0.7, -0.6, -0.5, -0.4, -0.3, -0.2, -0.1, -0.05, 0.0, 0.02, 0.05, 0.1, 0.15,
             0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


def internal_rate_of_return(cash_flows: list[float]) -> float:
    """The internal rate of return: the per-period discount rate at which the cash flows' NPV is zero (bounded
    bisection between -99% and 1000%; when several rates qualify, the one closest to 10% is returned).

    Args:
        cash_flows: the flows one period apart, the first at time 0, negative for money paid out (2 to 200 values,
            with at least one negative and one positive).

    Returns:
        The IRR in percent (6 decimals).
    """
    flows = _flows(cash_flows)
    if not (any(c < 0 for c in flows) and any(c > 0 for c in flows)):
        raise ValueError("cash_flows must contain at least one negative and one positive amount to have an IRR")
    points = [(r, _npv(r, flows)) for r in _IRR_GRID]
    points = [(r, v) for r, v in points if math.isfinite(v)]
    roots = [r for r, v in points if v == 0]
    for (lo, vlo), (hi, vhi) in zip(points, points[1:]):
        if vlo * vhi < 0:
            for _ in range(200):
                mid = (lo + hi) / 2
                vmid = _npv(mid, flows)
                if vmid == 0 or hi - lo < 1e-13:
                    break
                lo, vlo, hi = (mid, vmid, hi) if vlo * vmid > 0 else (lo, vlo, mid)
            roots.append((lo + hi) / 2)
    if not roots:
        raise ValueError("no internal rate of return between -99% and 1000% exists for these cash flows")
    return round(min(roots, key=lambda r: abs(r - 0.1)) * 100, 6)


def return_on_investment(initial_investment: float, final_value: float) -> dict:
    """The return on investment: the net gain as a percentage of what was invested.

    Args:
        initial_investment: the amount invested (greater than zero).
        final_value: what the investment is worth (or returned) at the end.

    Returns:
        An object {"net_gain", "roi_percent"}.
    """
    cost = _money(initial_investment, "initial_investment", positive=True)
    final = _money(final_value, "final_value", allow_negative=True)
    return {"net_gain": round(final - cost, 6), "roi_percent": round((final - cost) / cost * 100, 6)}


def compound_annual_growth_rate(start_value: float, end_value: float, years: float) -> float:
    """The compound annual growth rate (CAGR) that takes a start value to an end value over a number of years.

    Args:
        start_value: the value at the start (greater than zero).
        end_value: the value at the end (not negative).
        years: the number of years between them (greater than zero).

    Returns:
        The CAGR in percent per year (6 decimals).
    """
    start = _money(start_value, "start_value", positive=True)
    end = _money(end_value, "end_value")
    t = _money(years, "years", positive=True)
    if end == 0:
        return -100.0
    log_growth = (math.log(end) - math.log(start)) / t
    if log_growth > 700:
        raise ValueError("the growth rate is too large to represent; check the values and years")
    return round(math.expm1(log_growth) * 100, 6)


def break_even_point(fixed_costs: float, price_per_unit: float, variable_cost_per_unit: float) -> dict:
    """The sales volume at which revenue covers fixed and variable costs (profit zero).

    Args:
        fixed_costs: the total fixed costs.
        price_per_unit: the selling price of one unit.
        variable_cost_per_unit: the variable cost of one unit (less than the price).

    Returns:
        An object {"units": exact break-even volume, "units_to_sell": whole units needed (rounded up), "revenue": revenue
        at the exact volume, "contribution_margin": price minus variable cost}.
    """
    fixed = _money(fixed_costs, "fixed_costs")
    price = _money(price_per_unit, "price_per_unit", positive=True)
    variable = _money(variable_cost_per_unit, "variable_cost_per_unit")
    margin = price - variable
    if margin <= 0:
        raise ValueError("price_per_unit must exceed variable_cost_per_unit, otherwise every sale loses money and there is no break-even")
    units = fixed / margin
    return {"units": round(units, 6), "units_to_sell": math.ceil(round(units, 9)), "revenue": _cents(units * price),
            "contribution_margin": round(margin, 6)}


def depreciation_schedule(cost: float, salvage_value: float, useful_life_years: int,
                          method: Literal["straight_line", "declining_balance", "sum_of_years_digits"] = "straight_line",
                          declining_factor: float = 2.0) -> list[dict]:
    """A year-by-year depreciation schedule of an asset (straight-line, declining-balance or sum-of-years'-digits).

    Args:
        cost: the asset's purchase cost.
        salvage_value: its value at the end of its useful life (not more than cost).
        useful_life_years: the useful life in whole years, 1 to 100.
        method: straight_line (default), declining_balance (rate = declining_factor / life, never below salvage) or sum_of_years_digits.
        declining_factor: the declining-balance factor, 2 (double declining, default) or e.g. 1.5; ignored by other methods.

    Returns:
        One object per year {"year", "depreciation", "accumulated", "book_value"} in cents.
    """
    c, salvage = _money(cost, "cost", positive=True), _money(salvage_value, "salvage_value")
    if salvage > c:
        raise ValueError(f"salvage_value ({salvage:g}) must not exceed cost ({c:g})")
    life = _whole(useful_life_years, "useful_life_years", 1, 100)
    if isinstance(declining_factor, bool) or not isinstance(declining_factor, (int, float)) or not 0 < declining_factor <= 10:
        raise ValueError(f"declining_factor must be a number above 0 and at most 10, not {declining_factor!r}")
    rows, book, accumulated = [], c, 0.0
    for year in range(1, life + 1):
        if method == "straight_line":
            amount = (c - salvage) / life
        elif method == "sum_of_years_digits":
            amount = (c - salvage) * (life - year + 1) / (life * (life + 1) / 2)
        elif method == "declining_balance":
            amount = min(book * min(declining_factor / life, 1.0), max(book - salvage, 0.0))
        else:
            raise ValueError(f"unknown method {method!r}; use straight_line, declining_balance or sum_of_years_digits")
        book -= amount
        accumulated += amount
        rows.append({"year": year, "depreciation": _cents(amount), "accumulated": _cents(accumulated), "book_value": _cents(book)})
    return rows


def _load_rates() -> dict[str, tuple[str, float, str]]:
    if not _RATES:
        path = os.path.join(globals().get("DATA_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"),
                            "exchange_rates.csv")
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                _RATES[row["currency"].strip().upper()] = (row["name"].strip(), float(row["units_per_eur"]), row["date"].strip())
    return _RATES


def currency_convert(amount: float, from_currency: str, to_currency: str) -> dict:
    """Convert money between currencies at FIXED reference rates bundled with the tool (a euro-based snapshot dated
    2024-01-02), not live market rates; the result carries the rates' date.

    Args:
        amount: the amount of money in from_currency.
        from_currency: the ISO 4217 code of the currency held, e.g. "USD" (30 major currencies are known).
        to_currency: the ISO 4217 code to convert to, e.g. "JPY".

    Returns:
        An object {"amount", "from_currency", "to_currency", "converted" (2 decimals), "rate" (units of to_currency per
        unit of from_currency), "rates_date"}.
    """
    value = _money(amount, "amount")
    rates = _load_rates()
    codes = []
    for code, what in ((from_currency, "from_currency"), (to_currency, "to_currency")):
        key = code.strip().upper() if isinstance(code, str) else None
        if key not in rates:
            raise ValueError(f"{what}: unknown currency {code!r}; use an ISO code from {', '.join(sorted(rates))}")
        codes.append(key)
    src, dst = codes
    rate = rates[dst][1] / rates[src][1]
    return {"amount": value, "from_currency": src, "to_currency": dst, "converted": _cents(value * rate),
            "rate": float(f"{rate:.8g}"), "rates_date": rates[src][2]}
