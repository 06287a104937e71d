from ledger import Ledger, LedgerError


def test_record_and_balance():
    books = Ledger()
    books.record("cash", 1000, "opening")
    books.record("cash", -250)
    assert books.balance("cash") == 750
    assert books.balance("bank") == 0


def test_no_overdraft_unless_allowed():
    books = Ledger(overdraft_accounts=["credit"])
    books.record("cash", 100)
    books.record("cash", -100)
    assert books.balance("cash") == 0
    try:
        books.record("cash", -1)
    except LedgerError:
        pass
    else:
        raise AssertionError("expected a LedgerError")
    books.record("credit", -500)
    assert books.balance("credit") == -500


def test_transfer_moves_money_and_balances_to_zero():
    books = Ledger(overdraft_accounts=["equity"])
    books.transfer("equity", "cash", 5000)
    books.transfer("cash", "supplies", 1200)
    assert books.balances() == {"equity": -5000, "cash": 3800, "supplies": 1200}
    assert books.trial_balance() == 0


def test_transfer_errors():
    books = Ledger()
    books.record("cash", 100)
    for source, target, amount in (("cash", "bank", 0), ("cash", "cash", 5), ("cash", "bank", 101)):
        try:
            books.transfer(source, target, amount)
        except LedgerError:
            continue
        raise AssertionError(f"expected a LedgerError for {(source, target, amount)}")
    assert books.balances() == {"cash": 100}


def test_record_rejects_zero_and_non_integers():
    books = Ledger()
    for amount in (0, 1.5, "10"):
        try:
            books.record("cash", amount)
        except LedgerError:
            continue
        raise AssertionError(f"expected a LedgerError for {amount!r}")
