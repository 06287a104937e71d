"""Person fields drawn with ``faker``: one coherent person per row, locale and ``person`` key, so a
row's ``name``, ``email`` and ``first_name`` belong to the same (made-up) person. Seeded per row:
the same seed and row index give the same person whatever else the spec holds."""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from typing import Any

from .errors import TableError, need

PERSON_FIELDS = ("name", "first_name", "last_name", "email", "phone_number", "address", "street_address", "city",
                 "postcode", "country", "job", "company", "birth_date", "age")


@functools.lru_cache(maxsize=32)
def faker_for(locale: str) -> Any:
    faker = need("faker")
    try:
        return faker.Faker(locale)
    except (AttributeError, ModuleNotFoundError):
        raise TableError(f"faker has no locale {locale!r}; fix: use a locale such as en_US, en_GB, fr_FR, de_DE, ja_JP") from None


def check_locale(locale: str) -> None:
    faker_for(locale)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def make_person(locale: str, seed: int, today: dt.date = dt.date(2025, 1, 1)) -> dict[str, Any]:
    """One made-up person of ``locale`` from ``seed`` (``age`` counted at ``today``, fixed so runs repeat)."""
    fake = faker_for(locale)
    fake.seed_instance(seed)
    first, last = fake.first_name(), fake.last_name()
    user = ".".join(p for p in (_ascii(first), _ascii(last)) if p) or _ascii(fake.user_name()) or f"user{seed % 100000}"
    birth = today - dt.timedelta(days=fake.random.randint(18 * 366, 85 * 365))  # not faker's: it counts from the clock
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    street, city, postcode = fake.street_address(), fake.city(), fake.postcode()
    return {"first_name": first, "last_name": last, "name": f"{first} {last}", "email": f"{user}@{fake.free_email_domain()}",
            "phone_number": fake.phone_number(), "street_address": street, "city": city, "postcode": postcode,
            "address": f"{street}, {postcode} {city}", "country": fake.current_country() if _has_country(fake) else fake.country(),
            "job": fake.job(), "company": fake.company(), "birth_date": birth.isoformat(), "age": age}


def _has_country(fake: Any) -> bool:
    try:
        fake.current_country()
        return True
    except (ValueError, AttributeError):
        return False
