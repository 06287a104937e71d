from ledger import Inventory, InventoryError, Item


def make():
    inventory = Inventory()
    inventory.add(Item("A1", "bolt", 25, 100))
    inventory.add(Item("B2", "nut", 10, 3))
    return inventory


def test_stock_value():
    assert make().stock_value() == 25 * 100 + 10 * 3


def test_receive_averages_cost():
    inventory = make()
    inventory.receive("B2", 1, unit_cost=30)
    item = inventory.get("B2")
    assert item.quantity == 4
    assert item.unit_cost == 15
    inventory.receive("A1", 10)
    assert inventory.get("A1").quantity == 110
    assert inventory.get("A1").unit_cost == 25


def test_ship_and_overship():
    inventory = make()
    inventory.ship("B2", 3)
    assert inventory.get("B2").quantity == 0
    try:
        inventory.ship("A1", 101)
    except InventoryError:
        pass
    else:
        raise AssertionError("expected an InventoryError")


def test_low_stock_threshold_inclusive():
    inventory = make()
    assert inventory.low_stock(3) == ["B2"]
    assert inventory.low_stock(2) == []
    assert inventory.low_stock(100) == ["A1", "B2"]


def test_errors():
    inventory = make()
    for action in (lambda: inventory.add(Item("A1", "dup", 1)), lambda: inventory.get("Z9"),
                   lambda: inventory.receive("A1", 0), lambda: inventory.ship("A1", -1),
                   lambda: Item("C3", "bad", -1)):
        try:
            action()
        except InventoryError:
            continue
        raise AssertionError("expected an InventoryError")
