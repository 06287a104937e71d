"""Stock of items, received and shipped."""


class InventoryError(ValueError):
    """An operation the stock does not allow (unknown item, shipping more than is held...)."""


class Item:
    """One stock-keeping unit: ``unit_cost`` in cents, ``quantity`` on hand."""

    def __init__(self, sku, name, unit_cost, quantity=0):
        if unit_cost < 0 or quantity < 0:
            raise InventoryError(f"{sku}: cost and quantity must not be negative")
        self.sku = sku
        self.name = name
        self.unit_cost = unit_cost
        self.quantity = quantity

    @property
    def value(self):
        return self.unit_cost * self.quantity


class Inventory:
    """Items by SKU."""

    def __init__(self):
        self.items = {}

    def add(self, item):
        if item.sku in self.items:
            raise InventoryError(f"{item.sku}: already in the inventory")
        self.items[item.sku] = item

    def get(self, sku):
        if sku not in self.items:
            raise InventoryError(f"{sku}: no such item")
        return self.items[sku]

    def receive(self, sku, quantity, unit_cost=None):
        """Add ``quantity`` units; with ``unit_cost``, the item's cost becomes the weighted average (rounded down)."""
        if quantity <= 0:
            raise InventoryError("quantity received must be positive")
        item = self.get(sku)
        if unit_cost is not None:
            total = item.value + unit_cost * quantity
            item.unit_cost = total // (item.quantity + quantity)
        item.quantity += quantity

    def ship(self, sku, quantity):
        """Remove ``quantity`` units; shipping more than is on hand is an error."""
        if quantity <= 0:
            raise InventoryError("quantity shipped must be positive")
        item = self.get(sku)
        if quantity > item.quantity:
            raise InventoryError(f"{sku}: only {item.quantity} on hand, cannot ship {quantity}")
        item.quantity -= quantity

    def stock_value(self):
        """The cost of everything on hand, in cents."""
        return sum(item.value for item in self.items.values())

    def low_stock(self, threshold):
        """SKUs with at most ``threshold`` units on hand, sorted."""
        return sorted(sku for sku, item in self.items.items() if item.quantity <= threshold)
