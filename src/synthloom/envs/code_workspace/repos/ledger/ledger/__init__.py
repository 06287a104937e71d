"""A small inventory and bookkeeping model (amounts in integer cents)."""

from ledger.books import Ledger, LedgerError
from ledger.inventory import Inventory, InventoryError, Item
from ledger.money import format_cents, parse_amount

__all__ = ["Inventory", "InventoryError", "Item", "Ledger", "LedgerError", "format_cents", "parse_amount"]
