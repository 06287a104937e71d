"""Process-wide state that Ray workers must share with the driver (e.g. a test's scripted model).

A module registers ``SHIPPED_STATE[name] = (get, set)``: the Ray engine calls ``get()`` on the driver
when it starts a segment's workers and ``set(value)`` in each worker before it builds anything.
Kept free of Ray imports so that registering costs nothing when Ray is not used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SHIPPED_STATE: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}
